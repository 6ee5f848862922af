/**
 * The status of a consumer group in the manner of Burrow, computed from a window of samples
 * (the last OBSERVER_QUEUE_WINDOW polls, every OBSERVER_QUEUE_POLL_MS). Rules, per partition,
 * checked in this order; the group takes the worst partition's status (ERR > STOP > STALL > WARN >
 * OK):
 *
 * 0. ERR   the group's offsets or description could not be read (broker unreachable...).
 * 1. OK    the latest lag is zero, or the window has fewer than 2 samples.
 * 2. STOP  lag > 0 and the group has no members (Empty/Dead), or no group reads the topic at all:
 *          nobody is consuming.
 * 3. STALL lag > 0 over every sample of a window in which the committed offset never moved
 *          (Burrow's rule 2): members are listed but commit no progress.
 * 4. WARN  the committed offset moves but the lag grew between every pair of samples of a full
 *          window (Burrow's rule 3): the consumer falls behind.
 * 5. OK    otherwise.
 */

import type { QueueStatus } from "./record_format.ts";

export interface PartitionPoint {
  partition: number;
  high: string;
  committed: string | null;
  lag: number;
}

export interface WindowSample {
  at: string;
  partitions: PartitionPoint[];
}

export interface StatusVerdict {
  status: QueueStatus;
  reason: string;
}

const RANK: Record<QueueStatus, number> = { OK: 0, WARN: 1, STALL: 2, STOP: 3, ERR: 4 };

/** The worse of two statuses */
export function worse(a: QueueStatus, b: QueueStatus): QueueStatus {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Lag of one partition: high watermark minus committed offset (minus the log start if none) */
export function lagOf(high: string, committed: string | null, low: string): number {
  const h = BigInt(high);
  const c = committed === null ? BigInt(low) : BigInt(committed);
  const lag = h - c;
  return lag > 0n ? Number(lag) : 0;
}

/**
 * Evaluates a window (oldest first, the newest sample last) for a group with `members` members,
 * full when it holds `windowSize` samples; `unread`: no group reads the topic (its lag is every
 * message in it).
 */
export function evaluateWindow(
  window: WindowSample[],
  members: number,
  windowSize: number,
  unread = false,
): StatusVerdict {
  const latest = window.at(-1);
  if (latest === undefined) return { status: "OK", reason: "no sample yet" };
  let verdict: StatusVerdict = { status: "OK", reason: "lag is zero or shrinking" };
  for (const point of latest.partitions) {
    const series = window.map((s) => s.partitions.find((p) => p.partition === point.partition))
      .filter((p): p is PartitionPoint => p !== undefined);
    const v = evaluatePartition(series, members, window.length >= windowSize, unread);
    if (RANK[v.status] > RANK[verdict.status]) {
      verdict = { status: v.status, reason: `partition ${point.partition}: ${v.reason}` };
    }
  }
  return verdict;
}

function evaluatePartition(
  series: PartitionPoint[],
  members: number,
  full: boolean,
  unread: boolean,
): StatusVerdict {
  const last = series.at(-1);
  if (last === undefined || last.lag === 0) return { status: "OK", reason: "lag is zero" };
  if (unread) return { status: "STOP", reason: `lag ${last.lag} and no group reads the topic` };
  if (members === 0) {
    return { status: "STOP", reason: `lag ${last.lag} and the group has no members` };
  }
  if (series.length < 2) return { status: "OK", reason: "not enough samples" };
  const committedNeverMoved = series.every((p) => p.committed === last.committed);
  const lagAlwaysPositive = series.every((p) => p.lag > 0);
  if (full && committedNeverMoved && lagAlwaysPositive) {
    return {
      status: "STALL",
      reason: `committed offset stuck at ${last.committed ?? "none"} with lag ${last.lag}`,
    };
  }
  if (full && !committedNeverMoved) {
    let growing = true;
    for (let i = 1; i < series.length; i++) {
      const a = series[i - 1];
      const b = series[i];
      if (a === undefined || b === undefined || b.lag <= a.lag) growing = false;
    }
    if (growing) return { status: "WARN", reason: `lag grew in every sample to ${last.lag}` };
  }
  return { status: "OK", reason: "consumer is making progress" };
}
