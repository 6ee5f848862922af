/**
 * Who expired a task answered `deadline_exceeded` (or `timeout`): the record of the ERROR
 * (`handoff_failed`) carries when the task was made and the deadline it carried.
 * - its deadline was already past when it was made: the sender (or its clock) expired it;
 * - its agent's queue was behind (a sample not OK) between when it was made and its deadline:
 *   it expired waiting in the queue (a backlog);
 * - else it expired while its agent ran it: the agent was slow.
 * Tasks whose record carries neither time (an older observer's) count as expired while running.
 */

import type { ErrorRecord, HandoffFailedRecord } from "@mat/observer";
import { groupBy } from "../group_by.ts";
import { queueSeriesOf, type WindowFacts } from "../window_facts.ts";

const EXPIRY_KINDS: ReadonlySet<string> = new Set(["deadline_exceeded", "timeout"]);

export interface ExpiredSplit {
  /** Expired before they were sent, by sender */
  bySender: Map<string, HandoffFailedRecord[]>;
  before: HandoffFailedRecord[];
  /** Expired waiting in the queue */
  queued: HandoffFailedRecord[];
}

export function expiredSplit(
  facts: WindowFacts,
  agent: string,
  errors: ErrorRecord[],
): ExpiredSplit {
  const kinds = new Set(errors.map((e) => e.kind).filter((k) => EXPIRY_KINDS.has(k)));
  const failed = facts.failed.filter((f) => f.to === agent && kinds.has(f.error_kind));
  const before: HandoffFailedRecord[] = [];
  const queued: HandoffFailedRecord[] = [];
  const behind = queueSeriesOf(facts, agent).flat().filter((s) => s.status !== "OK" && s.lag > 0)
    .map((s) => Date.parse(s.ts));
  for (const f of failed) {
    const made = Date.parse(f.task_created_at ?? "");
    const deadline = Date.parse(f.deadline ?? "");
    if (Number.isNaN(made) || Number.isNaN(deadline)) continue;
    if (deadline <= made) before.push(f);
    else if (behind.some((t) => t >= made && t <= deadline)) queued.push(f);
  }
  return { bySender: groupBy(before, (f) => f.from), before, queued };
}
