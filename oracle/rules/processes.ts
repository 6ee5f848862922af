/**
 * Rules over the agents' pods and processes (runtime events in the window, and the processes
 * known at its end). They tell apart what the record can:
 * - a crash loop (`agent_crash_loop`): one replica (a process and its replacements: replicas.ts)
 *   dying `crash_loop_deaths` times or more (thresholds.ts), or the runtime's own CrashLoopBackOff;
 *   replicas each dying once are no loop;
 * - a crash (`agent_crashed`): a death holding tasks (a pod deleted holding tasks too), or an exit
 *   with an error code;
 * - a kill while idle (`agent_restarted`): killed by a signal (or the kernel's OOM killer) holding
 *   nothing, then started again;
 * - a clean stop (the supervisor's stop, or exit code 0 with no signal): not a fault, unless work
 *   waits on the queue of an agent left with no process (`agent_down`);
 * - an agent with no running process at the end of the window (`agent_down`).
 */

import type { ProcessData, RuntimeEventRecord, Severity } from "@mat/observer";
import { duration, evidence, type Finding, iso, noImpact, plural } from "../finding.ts";
import { THRESHOLDS } from "../thresholds.ts";
import { queueSeriesOf, seriesEndOf, type WindowFacts } from "../window_facts.ts";
import { type Lineage, lineages } from "./replicas.ts";

/** A crash loop with no death for this long, its agent running again, is over */
export const CRASH_LOOP_QUIET_MS = 60_000;

type LostTask = RuntimeEventRecord["tasks_in_flight"][number];

interface Death {
  record: RuntimeEventRecord;
  /** The process that died, and whether it came back itself (a pod's container restarted) */
  process: string;
  inPlace: boolean;
  at: number;
  how: string;
  lost: LostTask[];
  /** Tasks it held past the ones named (`tasks_in_flight_omitted`) */
  omitted: number;
  /** Killed by a signal or the OOM killer (not an exit of its own) */
  killed: boolean;
  /** Its tasks were named with the queues read up to it (`tasks_in_flight_complete` not false) */
  complete: boolean;
}

/** A runtime event that is a death nobody asked for, or undefined (a start, a clean stop...) */
export function deathOf(r: RuntimeEventRecord): Death | undefined {
  // A pod deleted while it held tasks ended their work too (deleting an idle pod is routine)
  const deletedHolding = r.kind === "deleted" &&
    r.tasks_in_flight.length + (r.tasks_in_flight_omitted ?? 0) > 0;
  const isExit = r.kind === "exited" || r.kind === "evicted" || deletedHolding ||
    (r.kind === "restarted" && r.source === "k8s");
  if (!isExit) return undefined;
  if (r.reason === "stopped") return undefined;
  const cleanExit = r.exit_code === 0 && r.signal === undefined && r.reason !== "OOMKilled";
  if (cleanExit && r.kind !== "evicted" && !deletedHolding) return undefined;
  const how = deletedHolding
    ? "pod deleted"
    : r.reason === "OOMKilled"
    ? "OOMKilled"
    : r.signal ?? (r.exit_code !== undefined ? `exit code ${r.exit_code}` : r.reason ?? r.kind);
  return {
    record: r,
    process: r.process,
    inPlace: r.kind === "restarted",
    at: Date.parse(r.at),
    how,
    lost: r.tasks_in_flight,
    omitted: r.tasks_in_flight_omitted ?? 0,
    killed: deletedHolding || r.signal !== undefined || r.reason === "OOMKilled" ||
      r.exit_code === 137,
    complete: r.tasks_in_flight_complete !== false,
  };
}

function counted(hows: string[]): string {
  const n = new Map<string, number>();
  for (const h of hows) n.set(h, (n.get(h) ?? 0) + 1);
  return [...n].map(([h, c]) => (c > 1 ? `${h} x${c}` : h)).join(", ");
}

/** The agent's newest process (pod or pid) at the end of the window */
function newest(procs: ProcessData[]): ProcessData | undefined {
  return procs.reduce<ProcessData | undefined>(
    (a, p) =>
      a === undefined ||
        (p.started_at ?? p.last_event_at) > (a.started_at ?? a.last_event_at)
        ? p
        : a,
    undefined,
  );
}

/**
 * The lag of an agent's queue at its last sample, or at the last one taken since `after`: the
 * most any group reading it had left (of the series still going on)
 */
function lagOf(facts: WindowFacts, agent: string, after = -Infinity): number {
  let lag = 0;
  for (const series of queueSeriesOf(facts, agent)) {
    const last = series.at(-1);
    if (last === undefined || seriesEndOf(facts, series) !== undefined) continue;
    if (Date.parse(last.ts) >= after) lag = Math.max(lag, last.lag);
  }
  return lag;
}

export function processRules(facts: WindowFacts, oracle: string): Finding[] {
  const out: Finding[] = [];
  const byAgent = new Map<string, RuntimeEventRecord[]>();
  for (const r of facts.runtime) {
    if (r.agent === null || r.agent === facts.userInbox || r.process === "") continue;
    byAgent.set(r.agent, [...(byAgent.get(r.agent) ?? []), r]);
  }
  const procsByAgent = new Map<string, ProcessData[]>();
  for (const p of facts.end.processes ?? []) {
    if (p.agent === null || p.agent === facts.userInbox) continue;
    procsByAgent.set(p.agent, [...(procsByAgent.get(p.agent) ?? []), p]);
  }
  // By task id: a retry of a lost task is a new message with the same task id, still unanswered
  const openTasks = new Set(facts.end.handoffs_open.map((h) => h.task_id));
  const agents = new Set([...byAgent.keys(), ...procsByAgent.keys()]);
  for (const agent of agents) {
    const events = byAgent.get(agent) ?? [];
    const deaths = events.map(deathOf).filter((d): d is Death => d !== undefined);
    const loops = events.filter((r) => r.kind === "crash_loop");
    // Its newest running process if any runs (a Deployment may run several pods, and a rollout
    // deletes a pod that never started after its replacement runs), else its newest process
    const procs = procsByAgent.get(agent) ?? [];
    const current = newest(procs.filter((p) => p.status === "running")) ?? newest(procs);
    const running = current?.status === "running";
    const term = current?.last_termination;
    const stoppedCleanly = current?.status === "exited" &&
      (term?.reason === "stopped" || (term?.exit_code === 0 && term.signal === null));
    const lastDeath = deaths.at(-1);
    // Started again after the last death (and running, or since stopped cleanly)
    const restartedAt = (running || stoppedCleanly) && current?.started_at && lastDeath &&
        Date.parse(current.started_at) >= lastDeath.at
      ? current.started_at
      : null;
    // Each task once, however many deaths it went through (a redelivered task dies again)
    const lost = [...new Map(deaths.flatMap((d) => d.lost).map((t) => [t.task_message_id, t]))
      .values()];
    const stillOpen = lost.filter((t) => openTasks.has(t.task_id));
    // A death holding more than it could name counts the rest (a flood): at least the largest
    const lostCount = lost.length + Math.max(0, ...deaths.map((d) => d.omitted));
    const seqs = [...deaths.map((d) => d.record.seq), ...loops.map((r) => r.seq)];
    const base = {
      agent,
      conversations: [...new Set(lost.map((t) => t.conversation_id))],
      tasks: lost.map((t) => t.task_id),
      next_commands: [
        `${oracle} agents`,
        `${oracle} diffs -e runtime_event`,
        ...(lost[0] ? [`${oracle} trace ${lost[0].conversation_id}`] : []),
      ],
    };
    const lostText = lostCount === 0
      ? "holding no task"
      : `holding ${plural(lostCount, "task")} (${
        lost.slice(0, 3).map((t) => `"${t.task_id}"`).join(", ")
      }${lost.length > 3 ? ", ..." : ""}); ${
        stillOpen.length > 0
          ? `${stillOpen.length} still unanswered`
          : "all answered since (redelivered after the restart)"
      }`;
    // Judged per replica: a lineage (a process and its replacements) dying again and again
    const starts = [
      ...events.filter((r) => r.kind === "started").map((r) => ({
        process: r.process,
        at: Date.parse(r.at),
      })),
      ...procs.flatMap((p) =>
        p.started_at ? [{ process: p.process, at: Date.parse(p.started_at) }] : []
      ),
    ];
    const lines = lineages(deaths, starts);
    const looping = lines.reduce<Lineage<Death> | undefined>(
      (a, l) => (l.deaths.length > (a?.deaths.length ?? 0) ? l : a),
      undefined,
    );
    // Its replicas: the lineages that died, or the processes running at the end, if more
    const replicas = Math.max(lines.length, procs.filter((p) => p.status === "running").length);
    if ((looping?.deaths.length ?? 0) >= THRESHOLDS.crash_loop_deaths || loops.length > 0) {
      const mine = looping?.deaths ?? deaths;
      const first = mine[0] ?? lastDeath;
      const latest = mine.at(-1) ?? lastDeath;
      const quiet = latest === undefined || facts.to - latest.at >= CRASH_LOOP_QUIET_MS;
      const over = quiet && restartedAt !== null;
      const hows = counted(mine.map((d) => d.how));
      const span = first && latest ? latest.at - first.at : 0;
      // Which replica, when the agent has more than one
      const replica = replicas > 1 && looping !== undefined
        ? ` (one of its ${replicas} replicas that died: ${
          looping.processes.slice(0, 4).join(" -> ")
        }${looping.processes.length > 4 ? " -> ..." : ""})`
        : "";
      out.push({
        ...base,
        kind: "agent_crash_loop",
        severity: over ? "error" : "critical",
        process: current?.process ?? lastDeath?.record.process ?? null,
        summary: `${agent}${replica} died ${plural(mine.length, "time")} in ${duration(span)} (${
          hows || "CrashLoopBackOff"
        }), ${lostText}; ${
          over ? `running again since ${restartedAt}` : "still restarting with back-off"
        }`,
        short: `${agent} crash-looped (${hows || "CrashLoopBackOff"})`,
        since: first ? iso(first.at) : loops[0]?.at ?? null,
        until: over ? restartedAt : null,
        evidence: evidence(seqs),
        impact: { ...noImpact(), tasks_lost: lostCount, messages_waiting: lagOf(facts, agent) },
      });
      continue;
    }
    if (deaths.length > 0 && lastDeath !== undefined) {
      const crashed = lostCount > 0 || deaths.some((d) => !d.killed);
      const hows = counted(deaths.map((d) => d.how));
      const procs = [...new Set(deaths.map((d) => d.record.process))].join(", ");
      const severity: Severity = restartedAt === null || stillOpen.length > 0 ? "error" : "warning";
      const back = restartedAt !== null ? `; running again since ${restartedAt}` : "; not running";
      out.push({
        ...base,
        kind: crashed ? "agent_crashed" : "agent_restarted",
        severity,
        process: lastDeath.record.process,
        summary: lines.length > 1
          ? `${lines.length} replicas of ${agent} (${procs}) died${
            lines.every((l) => l.deaths.length === 1) ? " once each" : ""
          }, each replaced: no crash loop (${hows}) ${lostText}${back}`
          : crashed
          ? `${agent} (${procs}) died ${
            deaths.length > 1 ? `${deaths.length} times ` : ""
          }(${hows}) ${lostText}${back}`
          : deaths.every((d) => d.complete)
          ? `${agent} (${procs}) was killed (${hows}) while idle, by no fault of its own work${back}`
          : `${agent} (${procs}) was killed (${hows}) holding no task the observer could name ` +
            `(it could not read the queues up to the death)${back}`,
        short: crashed
          ? `${agent} crashed (${hows})${lostCount ? ` holding ${plural(lostCount, "task")}` : ""}`
          : deaths.every((d) => d.complete)
          ? `${agent} killed while idle (${hows})`
          : `${agent} killed (${hows}), its tasks unknown`,
        since: iso(deaths[0]?.at ?? lastDeath.at),
        until: restartedAt,
        evidence: evidence(seqs),
        impact: { ...noImpact(), tasks_lost: lostCount },
      });
    }
    // No running process at the end while it should run: down.
    if (current !== undefined && !running && current.status !== "pending") {
      const t = current.last_termination;
      // After a clean stop, only a sample taken since counts: the last commit comes at the stop.
      const waiting = lagOf(
        facts,
        agent,
        stoppedCleanly ? Date.parse(t?.at ?? "") + 1_000 : -Infinity,
      );
      if (stoppedCleanly && waiting === 0) continue;
      if (deaths.length > 0 && lastDeath !== undefined && !stoppedCleanly) {
        // The crash above is ongoing; its finding says so.
        continue;
      }
      out.push({
        ...base,
        kind: "agent_down",
        severity: stoppedCleanly ? "warning" : "critical",
        process: current.process,
        summary: `${agent} has no running ${
          current.source === "k8s" ? "pod" : "process"
        }: ${current.process} is ${current.status}${
          stoppedCleanly ? " (stopped cleanly)" : t?.reason ? ` (${t.reason})` : ""
        }${waiting > 0 ? `; ${waiting} message(s) wait on its queue` : ""}`,
        short: `${agent} down`,
        since: t?.at ?? current.last_event_at,
        until: null,
        evidence: evidence(events.slice(-3).map((r) => r.seq)),
        impact: { ...noImpact(), messages_waiting: waiting },
      });
    }
  }
  return out;
}
