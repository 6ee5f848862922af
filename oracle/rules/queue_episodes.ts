/**
 * Episodes of a queue series: runs of samples that are not OK (Burrow-style statuses), each over
 * (ended by the first OK sample after it, or by the sample that ended its series) or ongoing.
 */

import type { QueueSampleRecord, QueueStatus } from "@mat/observer";

const RANK: Record<QueueStatus, number> = { OK: 0, WARN: 1, STALL: 2, STOP: 3, ERR: 4 };

export interface Episode {
  agent: string;
  /** The group of its series ("" for a queue no group reads) */
  group: string;
  worst: QueueStatus;
  samples: QueueSampleRecord[];
  /**
   * The first OK sample after it, or the sample that ended its series (its group no longer read
   * for the queue); undefined while ongoing
   */
  endedBy: QueueSampleRecord | undefined;
}

/** Runs of samples that are not OK in one series; `ended`: the sample that ended the series */
export function episodesOf(
  agent: string,
  series: QueueSampleRecord[],
  ended?: QueueSampleRecord,
): Episode[] {
  const out: Episode[] = [];
  const group = series[0]?.group ?? "";
  let open: Episode | undefined;
  for (const s of series) {
    if (s.status === "OK") {
      if (open !== undefined) {
        open.endedBy = s;
        out.push(open);
        open = undefined;
      }
      continue;
    }
    open ??= { agent, group, worst: s.status, samples: [], endedBy: undefined };
    open.samples.push(s);
    if (RANK[s.status] > RANK[open.worst]) open.worst = s.status;
  }
  if (open !== undefined) {
    if (ended !== undefined) open.endedBy = ended;
    out.push(open);
  }
  return out;
}

export function startOf(e: Episode): number {
  return Date.parse(e.samples[0]?.ts ?? "");
}

export function endOf(e: Episode): number {
  return e.endedBy ? Date.parse(e.endedBy.ts) : Infinity;
}

export function maxLag(e: Episode): number {
  return Math.max(0, ...e.samples.map((s) => s.lag));
}
