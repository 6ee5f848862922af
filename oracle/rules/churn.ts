/**
 * A consumer group that churns (`group_churn`): members joining and leaving again and again (a
 * bad deploy, a replica that starts and is killed), the group rebalancing much of the time. Each
 * series (one queue, one group) is judged on its own samples:
 * - the members it is expected to have are learned from the history: the most members of its
 *   Stable samples, or the agent's replicas seen running, whichever is more;
 * - members that joined since its first sample, by member id, less the processes of the agent
 *   started meanwhile (a restart or a rollout brings a new member), are joins;
 * - churn is `churn_joins` joins or more (thresholds.ts) with the group rebalancing in at least
 *   REBALANCING_SHARE of its samples, or holding more members than expected in MIN_CROWDED
 *   samples (rebalances are short: a poll seldom catches one). Ongoing when its last sample
 *   rebalances or has more members than expected.
 */

import type { QueueSampleRecord } from "@mat/observer";
import { evidence, type Finding, noImpact, plural } from "../finding.ts";
import { share, THRESHOLDS } from "../thresholds.ts";
import type { WindowFacts } from "../window_facts.ts";

const REBALANCING: ReadonlySet<string> = new Set(["PreparingRebalance", "CompletingRebalance"]);
/** Share of a series' samples rebalancing that is more than a rollout */
export const REBALANCING_SHARE = 0.2;
/** Samples a series needs before it is judged */
const MIN_SAMPLES = 6;
/** Samples with more members than expected that are more than one replacement overlapping */
const MIN_CROWDED = 3;

function expectedMembers(facts: WindowFacts, series: QueueSampleRecord[]): number {
  const agent = series[0]?.agent;
  const stable = series.filter((s) => s.group_state === "Stable").map((s) => s.members.length);
  const running =
    (facts.end.processes ?? []).filter((p) => p.agent === agent && p.status === "running").length;
  return Math.max(running, ...stable.length > 0 ? [Math.min(...stable)] : [1]);
}

export function churnRules(facts: WindowFacts, oracle: string): Finding[] {
  const out: Finding[] = [];
  for (const series of facts.queues.values()) {
    const first = series[0];
    const last = series.at(-1);
    if (first === undefined || last === undefined || first.group === "") continue;
    if (series.length < MIN_SAMPLES) continue;
    const agent = first.agent;
    const expected = expectedMembers(facts, series);
    // Members that joined after the first sample, beyond those a process start explains
    const before = new Set(first.members.map((m) => m.member_id));
    const joined = new Set(
      series.flatMap((s) => s.members.map((m) => m.member_id)).filter((id) => !before.has(id)),
    );
    const started = facts.runtime.filter((r) =>
      r.agent === agent && r.kind === "started" && Date.parse(r.at) >= Date.parse(first.ts)
    ).length;
    const joins = joined.size - started;
    if (joins < THRESHOLDS.churn_joins) {
      continue;
    }
    const rebalancing = series.filter((s) =>
      REBALANCING.has(s.group_state)
    );
    const crowded = series.filter((s) => s.members.length > expected);
    const unsettled = series.filter((s) =>
      REBALANCING.has(s.group_state) || s.members.length > expected
    );
    if (
      rebalancing.length / series.length < REBALANCING_SHARE && crowded.length < MIN_CROWDED
    ) continue;
    const most = Math.max(...series.map((s) => s.members.length));
    const ongoing = REBALANCING.has(last.group_state) || last.members.length > expected;
    out.push({
      kind: "group_churn",
      severity: ongoing ? "error" : "warning",
      agent,
      process: null,
      summary:
        `Group "${first.group}" of "${first.topic}" churned: ${
          plural(joined.size, "member")
        } joined (${
          started === 0
            ? "no process of the agent started meanwhile"
            : `${started} by processes started`
        }) where ${expected} ${expected === 1 ? "is" : "are"} expected; up to ${most} at once, ` +
        `more than expected in ${share(crowded.length, series.length)} samples, rebalancing in ` +
        `${rebalancing.length}${
          ongoing ? ", to the end of the window" : ""
        }: a replica that joins and dies, or a deploy that keeps restarting`,
      short: `${agent}'s group churned (${joins} members joined and left)`,
      since: unsettled[0]?.ts ?? first.ts,
      until: ongoing ? null : unsettled.at(-1)?.ts ?? null,
      evidence: evidence(unsettled.map((s) => s.seq)),
      next_commands: [`${oracle} queues`, `${oracle} agents`, `${oracle} diffs -e queue_sample`],
      impact: { ...noImpact(), messages_waiting: last.lag },
      conversations: [],
      tasks: [],
    });
  }
  return out;
}
