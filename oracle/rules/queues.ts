/**
 * Rules over the queue samples of the window (Burrow-style status per sample, members, offsets),
 * one series per queue and group reading it (`queue_series.ts`: a queue read by two groups is
 * judged twice, apart; a queue no group reads has one series, group ""). A run of samples that
 * are not OK is an episode, over or ongoing (or ended with its series: its group no longer read
 * the queue); each is told apart by what the record holds:
 * - every queue unreadable at once: the broker (`broker_unavailable`); one group unreadable for a
 *   sample or three (a coordinator moving as groups start) is no fault;
 * - no member and lag, on a queue no group of which ever had a member nor committed (or that no
 *   group reads: `group_source` "none"): a queue nobody ever read (`unroutable_task`);
 * - no member and lag in one group while another group reads the queue: that group's consumer
 *   is gone (`consumer_stalled`, naming it and where it came from);
 * - no member and lag while the agent's process kept running: a frozen consumer
 *   (`consumer_stalled`); with no process running: a dead one (`agent_down`);
 * - a member that does not commit while lag stays: frozen (`consumer_stalled`), or saturated by
 *   its own waiting when the replies it waits for sit unread in its queue and it retries tasks
 *   already answered (`agent_saturated`);
 * - a consumer that commits but falls behind (`queue_backlog`).
 * An episode that is over and cost nothing (no handoff to the agent stuck meanwhile) is `info`.
 */

import type { QueueSampleRecord, Severity } from "@mat/observer";
import {
  duration,
  evidence,
  type Finding,
  type FindingKind,
  noImpact,
  plural,
} from "../finding.ts";
import { lagTime } from "../lag_time.ts";
import { brokerFindings } from "./broker_outage.ts";
import { endOf, type Episode, episodesOf, maxLag, startOf } from "./queue_episodes.ts";
import { THRESHOLDS } from "../thresholds.ts";
import { queueSeriesOf, seriesEndOf, type WindowFacts } from "../window_facts.ts";
import { deathOf } from "./processes.ts";

/** Where a finding says a sample's group came from, when it matters */
function sourceNote(s: QueueSampleRecord | undefined): string {
  switch (s?.group_source) {
    case "declared":
      return " (declared in OBSERVER_GROUPS)";
    case "broker-offsets":
      return " (found by its committed offsets)";
    default:
      return "";
  }
}

/** The group a sample names, as a finding says it: `group "x" (where from)`, or no group */
function groupOf(s: QueueSampleRecord | undefined): string {
  if (s?.group_source === "none" || s?.group === "") return "no consumer group";
  return `group "${s?.group ?? ""}"${sourceNote(s)}`;
}

/** The groups named in samples, quoted and joined */
function groupList(samples: QueueSampleRecord[]): string {
  const names = [...new Set(samples.map((s) => s.group).filter((g) => g !== ""))];
  return names.map((g) => `"${g}"`).join(", ");
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function everRead(samples: QueueSampleRecord[]): boolean {
  return samples.some((s) =>
    s.members.length > 0 || s.partitions.some((p) => p.committed !== null)
  );
}

function waitingOffsets(s: QueueSampleRecord | undefined): Finding["evidence"]["offsets"] {
  if (s === undefined) return [];
  return s.partitions.filter((p) => p.lag > 0).map((p) => ({
    topic: s.topic,
    partition: p.partition,
    offset: p.committed ?? "0",
  }));
}

export function queueRules(facts: WindowFacts, oracle: string): Finding[] {
  const out: Finding[] = [];
  const ends = new Map([...facts.queues].map(([key, series]) => [key, seriesEndOf(facts, series)]));
  // Each episode, with the series it is of
  const seriesOf = new Map<Episode, QueueSampleRecord[]>();
  const episodes = [...facts.queues].flatMap(([key, series]) => {
    const agent = series[0]?.agent;
    const found = agent === undefined ? [] : episodesOf(agent, series, ends.get(key));
    for (const e of found) seriesOf.set(e, series);
    return found;
  });
  // The broker: every queue sampled unreadable at once, or the observer's sampling stalled
  const err = episodes.filter((e) => e.worst === "ERR");
  const { outages, findings } = brokerFindings(facts, err, seriesOf, ends, oracle);
  out.push(...findings);
  const inOutage = (e: Episode) =>
    outages.some(([since, until]) => startOf(e) <= until && endOf(e) >= since);
  // Tasks sent while a queue's group had no member, on a queue no sample shows read (before the
  // samples caught up with them: the episodes below cover the rest)
  const unread = new Map<string, WindowFacts["unconsumed"]>();
  for (const u of facts.unconsumed) unread.set(u.agent, [...(unread.get(u.agent) ?? []), u]);
  for (const [agent, tasks] of unread) {
    const samples = queueSeriesOf(facts, agent).flat();
    const sampledWaiting = samples.some((s) => s.lag > 0 && s.status !== "OK");
    if (everRead(samples) || sampledWaiting) continue;
    const first = tasks[0];
    const waiting = tasks.reduce((n, t) => n + t.count, 0);
    const named = groupList(samples);
    out.push({
      kind: "unroutable_task",
      severity: "critical",
      agent,
      process: null,
      summary: `${plural(waiting, "task")} sent to ${
        first?.topic ? `"${first.topic}"` : `${agent}'s queue`
      }, a queue no consumer ever read (${
        named === ""
          ? samples.length > 0 ? "no consumer group reads it" : "its group has no member"
          : `${named} never had a member`
      })`,
      short: `nothing ever read ${agent}'s queue`,
      since: first?.ts ?? null,
      until: null,
      evidence: evidence(tasks.flatMap((t) => t.seqs)),
      next_commands: [`${oracle} queues`, `${oracle} errors -a ${agent}`],
      impact: { ...noImpact(), messages_waiting: waiting },
      conversations: [],
      tasks: [],
    });
  }
  for (const e of episodes) {
    if (e.worst === "ERR") {
      if (inOutage(e)) continue;
      // Unreadable briefly, then read again (a coordinator moving): no fault
      if (e.endedBy !== undefined && endOf(e) - startOf(e) <= THRESHOLDS.transient_err_ms) continue;
    }
    out.push(classify(e, seriesOf.get(e) ?? e.samples, facts, oracle));
  }
  return out;
}

/** A backlog this old, and this many times the agent's median task latency, is no task in flight */
const FROZEN_AGE_MS = 10_000;
const FROZEN_LATENCIES = 20;
/** Latencies the agent needs on record before its normal is trusted */
const MIN_LATENCIES = 5;

function classify(
  e: Episode,
  series: QueueSampleRecord[],
  facts: WindowFacts,
  oracle: string,
): Finding {
  const agent = e.agent;
  // The other groups of the queue (for a queue no group reads: the groups before and after)
  const others = queueSeriesOf(facts, agent).filter((s) => s !== series);
  const start = startOf(e);
  const end = endOf(e);
  const ongoing = e.endedBy === undefined;
  const last = e.samples.at(-1);
  const lag = ongoing ? last?.lag ?? 0 : maxLag(e);
  // Handoffs to this agent stuck during the episode: what it cost
  const stuck = facts.stuck.filter((s) =>
    s.to === agent && Date.parse(s.ts) >= start - 5_000 && Date.parse(s.ts) <= end + 30_000
  );
  // No group of the queue ever had a member nor committed (a queue no group reads: nor any other)
  const neverRead = !everRead([...series, ...others.flat()]);
  const noMembers = e.samples.some((s) => s.members.length === 0);
  // Other groups with a member on the queue meanwhile (from the poll it began in: the groups of a
  // poll are sampled one after the other): this group's episode is its own
  const readers = others.flat().filter((s) =>
    s.members.length > 0 && Date.parse(s.ts) >= start - 5_000 && Date.parse(s.ts) <= end
  );
  const deaths = facts.runtime.filter((r) =>
    r.agent === agent && deathOf(r) !== undefined && Date.parse(r.at) <= end &&
    Date.parse(r.at) >= start - 60_000
  );
  const stops = facts.runtime.filter((r) =>
    r.agent === agent && r.kind === "exited" && r.reason === "stopped" && Date.parse(r.at) <= end
  );
  const procs = (facts.end.processes ?? []).filter((p) => p.agent === agent);
  const aliveThroughout = procs.some((p) => p.status === "running") && deaths.length === 0 &&
    stops.length === 0;
  // Replies this agent waited for, sitting in its own queue, while it retried the tasks: a
  // retry of a task whose earlier attempt had been answered already
  const answered = new Map<string, { seq: number; latency_ms: number }[]>();
  for (const reply of facts.replies.values()) {
    // A RESULT: an ERROR may ask for the retry (retryable), a RESULT never does
    if (reply.from !== agent || reply.type !== "handoff_completed") continue;
    const key = `${reply.task_id}\u0000${reply.to}`;
    answered.set(key, [...(answered.get(key) ?? []), reply]);
  }
  const replyBefore = (r: { task_id: string; to: string; seq: number }) =>
    answered.get(`${r.task_id}\u0000${r.to}`)?.find((reply) => reply.seq < r.seq);
  const unread = facts.retried.filter((r) =>
    r.from === agent && replyBefore(r) !== undefined && Date.parse(r.ts) >= start - 30_000 &&
    Date.parse(r.ts) <= end
  );
  // Handoffs it sent that were open, or went stuck, during the episode: what it waited for
  const waitingOn = [
    ...facts.end.handoffs_open.filter((h) =>
      h.from === agent && Date.parse(h.created_at) <= end && (ongoing || h.stuck)
    ),
    ...facts.stuck.filter((s) =>
      s.from === agent && Date.parse(s.ts) >= start - 30_000 && Date.parse(s.ts) <= end + 5_000
    ),
  ];
  // Whether the agent sent anything since the episode began (a frozen consumer sends nothing)
  const lastSent = facts.end.agents.find((a) => a.agent === agent)?.last_seen ?? null;
  const active = lastSent !== null && Date.parse(lastSent) >= start;
  const times = lagTime(series.filter((s) => Date.parse(s.ts) <= end));
  const age = times?.oldest_unconsumed_age_ms ?? null;
  const backlog = age === null
    ? ""
    : `; oldest waiting message ${times?.older_than_window ? "over " : ""}${
      duration(age)
    } old, lag ${times?.trend ?? "steady"}`;
  // Partitions whose committed offset stood still with lag through the episode, and those that
  // moved: one replica frozen while the others read on
  const opening = e.samples[0];
  const committedAtOpening = (partition: number) =>
    opening?.partitions.find((q) => q.partition === partition)?.committed;
  const still = (last?.partitions ?? []).filter((p) =>
    p.lag > 0 && committedAtOpening(p.partition) === p.committed
  ).map((p) => p.partition);
  const moved = (last?.partitions ?? []).filter((p) =>
    committedAtOpening(p.partition) !== p.committed
  );
  // Waiting far longer than the agent takes on a task: no task in flight explains it
  const latencies = [
    ...(facts.end.agents.find((a) => a.agent === agent)?.recent_latencies_ms ??
      []),
  ].sort((a, b) => a - b);
  // Its median: a backlog stretches the tail of the latencies it records, not their middle
  const normal = latencies[Math.floor(latencies.length / 2)] ?? Infinity;
  const overdue = latencies.length >= MIN_LATENCIES && age !== null &&
    age >= Math.max(FROZEN_AGE_MS, FROZEN_LATENCIES * normal);
  const partFrozen = ongoing && overdue && still.length > 0 && moved.length > 0;
  const when = ongoing
    ? `since ${new Date(start).toISOString()}`
    : `for ${duration(end - start)} (over at ${new Date(end).toISOString()})`;

  let kind: FindingKind;
  let summary: string;
  let short: string;
  let severity: Severity;
  let secondary = false;
  if (e.worst === "ERR") {
    kind = "consumer_stalled";
    severity = ongoing ? "error" : "warning";
    summary = last?.group === ""
      ? `"${last.topic}" could not be read ${when}: ${last.status_reason}`
      : `Group "${last?.group}" could not be read ${when}: ${last?.status_reason}`;
    short = `${agent}'s group unreadable`;
  } else if (noMembers && neverRead) {
    kind = "unroutable_task";
    severity = ongoing ? "critical" : "warning";
    const waits = `${plural(lag, "message")} wait${lag === 1 ? "s" : ""}${backlog}`;
    summary = last?.group === ""
      ? `Nobody ever read "${last.topic}": no consumer group reads the topic, while ${waits}`
      : `Nobody ever read "${last?.topic}": ${groupOf(last)} never had a member nor ` +
        `committed, while ${waits}`;
    short = `nothing ever read ${agent}'s queue`;
  } else if (noMembers && readers.length > 0 && e.group !== "") {
    // Another group reads the queue: this one's consumer is gone (or it never came)
    kind = "consumer_stalled";
    severity = ongoing ? "error" : stuck.length > 0 ? "warning" : "info";
    summary = `${capitalised(groupOf(last))} had no member ${when} while ${
      plural(lag, "message")
    } waited for it on "${last?.topic}", which group${
      new Set(readers.map((r) => r.group)).size === 1 ? "" : "s"
    } ${groupList(readers)} read meanwhile${backlog}`;
    short = `group "${last?.group}" of ${agent}'s queue has no consumer`;
  } else if (unread.length > 0) {
    kind = "agent_saturated";
    severity = ongoing ? "error" : "warning";
    const latencies = unread.map((r) => replyBefore(r)?.latency_ms ?? 0).sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length / 2)] ?? 0;
    summary =
      `${agent} did not read the replies it waited for: ${
        plural(unread.length, "task")
      } it sent were answered on its own queue (p50 ${duration(p50)}) and retried anyway, while ` +
      `its committed offset stood still (${e.worst}, lag up to ${maxLag(e)}) ${when}${backlog}`;
    short = `${agent} saturated by its own waiting`;
  } else if (noMembers && !aliveThroughout) {
    kind = "agent_down";
    severity = ongoing ? "critical" : stuck.length > 0 ? "warning" : "info";
    // An unread queue: the groups that read it before, the one whose finding ended it
    const before = groupList(
      others.flat().filter((s) => s.members.length > 0 && Date.parse(s.ts) < start),
    );
    const found = e.endedBy?.group ? ` until group "${e.endedBy.group}" was found reading it` : "";
    summary = last?.group === ""
      ? `No consumer group read "${last.topic}" ${when}${
        before === "" ? "" : ` (${before} read it before)`
      }${found} while ${plural(lag, "message")} waited${backlog}`
      : `No consumer in ${groupOf(last)} ${when} while ${
        plural(lag, "message")
      } waited on "${last?.topic}"${backlog}`;
    short = `${agent}'s consumer gone`;
  } else if (e.worst === "WARN") {
    kind = "queue_backlog";
    severity = ongoing ? "warning" : "info";
    summary = `"${last?.topic}" backed up ${when}: the group commits but lag grew to ${
      maxLag(e)
    }${backlog}`;
    short = `${agent}'s queue backed up`;
  } else if (!noMembers && stuck.length === 0 && waitingOn.length > 0) {
    // Its tasks in flight wait for replies from other agents: their delays are its delays.
    const others = [...new Set(waitingOn.map((h) => h.to))].join(", ");
    kind = "consumer_stalled";
    severity = "info";
    summary = `${agent}'s committed offset stood still ${when} (lag up to ${
      maxLag(e)
    }) while it waited for ${plural(waitingOn.length, "reply", "replies")} from ${others}`;
    short = `${agent} waited on ${others}`;
    secondary = true;
  } else if (!noMembers && stuck.length === 0 && active && !partFrozen) {
    // Sending all along: tasks in flight hold its committed offset, nothing is frozen.
    kind = "consumer_stalled";
    severity = "info";
    summary = `${agent} was busy ${when}: its committed offset waited on tasks in flight ` +
      `(lag up to ${maxLag(e)}) while it kept sending; nothing waited past a deadline`;
    short = `${agent} busy`;
    secondary = true;
  } else {
    kind = "consumer_stalled";
    severity = ongoing ? "error" : stuck.length > 0 ? "warning" : "info";
    const proc = procs.find((p) => p.status === "running");
    const running = `its process${proc ? ` ${proc.process}` : ""} kept running`;
    summary = noMembers && last?.group === ""
      ? `No consumer group read "${last.topic}" ${when} while ${running}; ${
        plural(lag, "message")
      } waited${backlog}`
      : noMembers
      ? `${agent}'s consumer left ${groupOf(last)} ${when} while ${running} (frozen: no ` +
        `heartbeat, no commit); ${plural(lag, "message")} waited${backlog}`
      : partFrozen
      ? `${agent}'s partition${still.length === 1 ? "" : "s"} ${
        still.map((p) => `p${p}`).join(", ")
      } of "${last?.topic}" stood still ${when} with lag ${maxLag(e)} while its other ` +
        `partitions were read: the replica holding them froze (or is stuck in its handlers), ` +
        `its oldest waiting message ${duration(age ?? 0)} old against ${
          duration(normal)
        } a task takes (median)`
      : `${agent}'s consumer is in ${groupOf(last)} but commits nothing ${when} with lag ${
        maxLag(e)
      } (frozen or stuck in its handlers)${backlog}`;
    short = `${agent}'s consumer froze`;
  }
  return {
    kind,
    severity,
    agent,
    process: null,
    summary,
    short,
    since: new Date(start).toISOString(),
    until: ongoing ? null : new Date(end).toISOString(),
    evidence: evidence(
      [e.samples[0]?.seq ?? 0, last?.seq ?? 0, ...stuck.map((s) => s.seq)],
      waitingOffsets(last),
    ),
    next_commands: [`${oracle} queues`, `${oracle} agents`, `${oracle} errors -a ${agent}`],
    impact: { ...noImpact(), messages_waiting: lag },
    conversations: [
      ...new Set([...stuck, ...unread, ...waitingOn].map((s) => s.conversation_id)),
    ],
    tasks: [...new Set(stuck.map((s) => s.task_id))],
    ...(secondary ? { secondary: true as const } : {}),
  };
}
