/**
 * The broker's outages in a window (`broker_unavailable`): every queue unreadable at the same
 * time (each of its series going on then), or the observer's sampling stalled (it waits on the
 * broker) with an unreadable group around the gap. Unreadable groups of different agents at
 * different times are no outage. Over, an outage is a note here: what it cost (the requests in
 * flight that waited on it) is weighed afterwards (outage_cost.ts).
 */

import type { QueueSampleRecord } from "@mat/observer";
import { duration, evidence, type Finding, noImpact } from "../finding.ts";
import type { WindowFacts } from "../window_facts.ts";
import { endOf, type Episode, maxLag, startOf } from "./queue_episodes.ts";

/**
 * The times every queue was unreadable at once: a time inside an ERR episode (from the first
 * unreadable sample to the sample that read it again) of every series going on then (a series
 * that ended before, or began after, has no say), over two agents or more; an outage spans the
 * episodes that hold it. Unreadable groups at different times are no outage.
 */
function commonErr(
  facts: WindowFacts,
  err: Episode[],
  seriesOf: Map<Episode, QueueSampleRecord[]>,
  ends: Map<string, QueueSampleRecord | undefined>,
): [number, number][] {
  const agents = new Set([...facts.queues.values()].flatMap((s) => s[0] ? [s[0].agent] : []));
  if (agents.size < 2) return [];
  const out: [number, number][] = [];
  for (const e of [...err].sort((a, b) => startOf(a) - startOf(b))) {
    const t = startOf(e);
    if (out.some(([since, until]) => t >= since && t <= until)) continue;
    const holding: Episode[] = [];
    const all = [...facts.queues].every(([key, series]) => {
      const first = Date.parse(series[0]?.ts ?? "");
      const ended = Date.parse(ends.get(key)?.ts ?? "");
      if (first > t || ended < t) return true;
      const at = err.filter((x) => seriesOf.get(x) === series && startOf(x) <= t && endOf(x) > t);
      holding.push(...at);
      return at.length > 0;
    });
    if (!all || new Set(holding.map((x) => x.agent)).size < 2) continue;
    out.push([Math.min(...holding.map(startOf)), Math.max(...holding.map(endOf))]);
  }
  return out;
}

/** Gaps in the observer's queue sampling this many poll intervals long (or 5 s) are stalls */
const GAP_POLLS = 6;

/**
 * The broker's outages, [since, until] (until Infinity while ongoing): every queue unreadable at
 * once, or a stall of the observer's sampling (it waits on the broker) next to an unreadable group
 */
function brokerOutages(
  facts: WindowFacts,
  err: Episode[],
  seriesOf: Map<Episode, QueueSampleRecord[]>,
  ends: Map<string, QueueSampleRecord | undefined>,
): [number, number][] {
  if (err.length === 0) return [];
  const common = commonErr(facts, err, seriesOf, ends);
  if (common.length > 0) return common;
  const times = [
    ...new Set([...facts.queues.values()].flatMap((s) => s.map((x) => Date.parse(x.ts)))),
  ]
    .sort((a, b) => a - b);
  const steps = times.slice(1).map((t, i) => t - (times[i] ?? t)).sort((a, b) => a - b);
  const poll = steps[Math.floor(steps.length / 2)] ?? 1_000;
  const limit = Math.max(5_000, GAP_POLLS * poll);
  const restarts = facts.observerStarts.map((r) => Date.parse(r.ts));
  const errTimes = err.flatMap((e) => e.samples.map((x) => Date.parse(x.ts)));
  for (let i = 1; i < times.length; i++) {
    const a = times[i - 1] ?? 0;
    const b = times[i] ?? 0;
    if (b - a < limit || restarts.some((t) => t > a && t <= b)) continue;
    // An unreadable group inside the gap or just around it: the observer was up, Kafka was not.
    if (errTimes.some((t) => t >= a - limit && t <= b + limit)) {
      const end = Math.max(b, ...err.map(endOf).filter((t) => t <= b + limit));
      return [[a, end]];
    }
  }
  const last = times.at(-1) ?? facts.to;
  if (facts.to - last >= limit && errTimes.some((t) => t >= last - limit)) {
    return [[last, Infinity]];
  }
  return [];
}

/** The outages of the window, [since, until] each, and their findings */
export function brokerFindings(
  facts: WindowFacts,
  err: Episode[],
  seriesOf: Map<Episode, QueueSampleRecord[]>,
  ends: Map<string, QueueSampleRecord | undefined>,
  oracle: string,
): { outages: [number, number][]; findings: Finding[] } {
  const findings: Finding[] = [];
  const outages = brokerOutages(facts, err, seriesOf, ends);
  for (const [since, until] of outages) {
    const ongoing = !Number.isFinite(until);
    const during = err.filter((e) => startOf(e) <= until && endOf(e) >= since);
    findings.push({
      kind: "broker_unavailable",
      // Over, it is judged by what it cost (outage_cost.ts): a note until it is shown to
      severity: ongoing ? "critical" : "info",
      agent: null,
      process: null,
      summary: `The broker did not answer from ${new Date(since).toISOString()}${
        ongoing ? " to the end of the window" : ` for ${duration(until - since)}`
      }: no queue could be read (${during[0]?.samples[0]?.status_reason ?? "sampling stalled"})${
        ongoing ? "" : "; every group was read again since"
      }`,
      short: ongoing
        ? "the broker is unreachable"
        : `the broker was unreachable for ${duration(until - since)}`,
      since: new Date(since).toISOString(),
      until: ongoing ? null : new Date(until).toISOString(),
      evidence: evidence(during.flatMap((e) => [e.samples[0]?.seq ?? 0])),
      next_commands: [`${oracle} queues`, `${oracle} diffs -e queue_status_changed`],
      impact: { ...noImpact(), messages_waiting: Math.max(0, ...during.map(maxLag)) },
      conversations: [],
      tasks: [],
    });
  }
  return { outages, findings };
}
