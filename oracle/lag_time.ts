/**
 * Lag in time, from the observer's queue samples: per partition, the age of the oldest message
 * not yet consumed (committed) by the agent's group, and whether lag grew or shrank over the
 * window. Kafka consoles show the first as "consumer lag in time"; Temporal calls it backlog age.
 *
 * The oldest unconsumed message of a partition is the one at the committed offset C. It was
 * produced after the newest sample whose high watermark was still <= C, and at or before the
 * sample after it: its age is at least `end - t(next sample)`, to the precision of the poll
 * interval. When no sample of the window had high <= C, the backlog is older than the window and
 * the age is a lower bound (`older_than_window`).
 */

import type { QueueSampleRecord } from "@mat/observer";
import { compareOffsets } from "@mat/agents/protocol";

export type LagTrend = "growing" | "shrinking" | "steady" | "empty";

export interface PartitionLagTime {
  partition: number;
  lag: number;
  /** Age in ms of the oldest unconsumed message at the last sample, null when lag is 0 */
  oldest_unconsumed_age_ms: number | null;
  /** The backlog began before the first sample of the window: the age is a lower bound */
  older_than_window: boolean;
}

export interface QueueLagTime {
  /** Lag at the first and the last sample of the window */
  lag_first: number;
  lag_last: number;
  lag_max: number;
  trend: LagTrend;
  /** The oldest unconsumed message over all partitions, ms (null when nothing waits) */
  oldest_unconsumed_age_ms: number | null;
  older_than_window: boolean;
  partitions: PartitionLagTime[];
}

/** Lag in time over a series of samples of one queue, oldest first; undefined when empty */
export function lagTime(series: QueueSampleRecord[]): QueueLagTime | undefined {
  const last = series.at(-1);
  const first = series[0];
  if (last === undefined || first === undefined) return undefined;
  const end = Date.parse(last.ts);
  const partitions: PartitionLagTime[] = [];
  for (const p of last.partitions) {
    if (p.lag === 0) {
      partitions.push({
        partition: p.partition,
        lag: 0,
        oldest_unconsumed_age_ms: null,
        older_than_window: false,
      });
      continue;
    }
    const committed = p.committed;
    // Newest sample (before the last) whose high watermark had not yet passed the committed offset
    let arrivedBy: number | undefined;
    for (let i = series.length - 2; i >= 0; i--) {
      const s = series[i];
      const q = s?.partitions.find((x) => x.partition === p.partition);
      if (s === undefined || q === undefined) continue;
      const caughtUp = committed === null ? q.high === "0" : compareOffsets(q.high, committed) <= 0;
      if (caughtUp) {
        arrivedBy = Date.parse(series[i + 1]?.ts ?? last.ts);
        break;
      }
    }
    partitions.push({
      partition: p.partition,
      lag: p.lag,
      oldest_unconsumed_age_ms: Math.max(0, end - (arrivedBy ?? Date.parse(first.ts))),
      older_than_window: arrivedBy === undefined,
    });
  }
  const waiting = partitions.filter((p) => p.oldest_unconsumed_age_ms !== null);
  const oldest = waiting.reduce<PartitionLagTime | undefined>(
    (a, p) =>
      a === undefined || (p.oldest_unconsumed_age_ms ?? 0) > (a.oldest_unconsumed_age_ms ?? 0)
        ? p
        : a,
    undefined,
  );
  const lags = series.map((s) => s.lag);
  const lagFirst = first.lag;
  const lagLast = last.lag;
  return {
    lag_first: lagFirst,
    lag_last: lagLast,
    lag_max: Math.max(...lags),
    trend: lagLast === 0
      ? "empty"
      : lagLast > lagFirst
      ? "growing"
      : lagLast < lagFirst
      ? "shrinking"
      : "steady",
    oldest_unconsumed_age_ms: oldest?.oldest_unconsumed_age_ms ?? null,
    older_than_window: oldest?.older_than_window ?? false,
    partitions,
  };
}
