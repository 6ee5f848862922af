/**
 * A consumer group that churns (`group_churn`): members joining and leaving again and again (a
 * bad deploy, a replica that starts and is killed), the group rebalancing much of the time. Each
 * series (one queue, one group) is judged on its own samples:
 * - the members it is expected to have are learned from the history: the most members of its
 *   Stable samples, or the agent's replicas seen running, whichever is more;
 * - members beyond them, counted by member id over the window, are joins;
 * - churn is `churn_joins` joins or more (thresholds.ts) with the group seen rebalancing in at
 *   least REBALANCING_SHARE of its samples. Ongoing when its last sample rebalances or has more
 *   members than expected.
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
    const rebalancing = series.filter((s) => REBALANCING.has(s.group_state));
    if (rebalancing.length / series.length < REBALANCING_SHARE) continue;
    const expected = expectedMembers(facts, series);
    const ids = new Set(series.flatMap((s) => s.members.map((m) => m.member_id)));
    const joins = ids.size - expected;
    if (joins < THRESHOLDS.churn_joins) continue;
    const most = Math.max(...series.map((s) => s.members.length));
    const ongoing = REBALANCING.has(last.group_state) || last.members.length > expected;
    const agent = first.agent;
    out.push({
      kind: "group_churn",
      severity: ongoing ? "error" : "warning",
      agent,
      process: null,
      summary:
        `Group "${first.group}" of "${first.topic}" churned: ${
          plural(ids.size, "member")
        } came and went where ${expected} ${
          expected === 1 ? "is" : "are"
        } expected (up to ${most} ` +
        `at once), rebalancing in ${share(rebalancing.length, series.length)} samples${
          ongoing ? ", to the end of the window" : ""
        }: a replica that joins and dies, or a deploy that keeps restarting`,
      short: `${agent}'s group churned (${joins} extra members)`,
      since: rebalancing[0]?.ts ?? first.ts,
      until: ongoing ? null : rebalancing.at(-1)?.ts ?? null,
      evidence: evidence(rebalancing.map((s) => s.seq)),
      next_commands: [`${oracle} queues`, `${oracle} agents`, `${oracle} diffs -e queue_sample`],
      impact: { ...noImpact(), messages_waiting: last.lag },
      conversations: [],
      tasks: [],
    });
  }
  return out;
}
