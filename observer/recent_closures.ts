/**
 * Handoffs closed lately, with the time each was closed by the records' own clocks: the reply's
 * `created_at` (the task's plus the latency), or the retry's. A death recorded late (held while
 * the queues are read up to it, see `runtime_hold.ts`) asks which of its agent's handoffs were
 * still open at its own time: those open now, and those closed since by a reply or retry dated
 * after it. Not part of the state: a restarted observer reads again every record after its
 * positions, so the closures a held death needs are folded, and noted, in the same run.
 *
 * Bounded: past `cap` plus an eighth the oldest noted go, and the latest close time among them is
 * kept, so a death older than it knows its answer may miss a task (`forgotAfter`).
 */

import type { HandoffData } from "./open_handoffs.ts";

export type ClosedHandoff = Pick<
  HandoffData,
  "task_message_id" | "task_id" | "conversation_id" | "from" | "to" | "attempt" | "created_at"
>;

interface Closure {
  handoff: ClosedHandoff;
  /** When the reply or retry that closed it was made, ms since the epoch */
  closedAt: number;
}

export class RecentClosures {
  readonly #byId = new Map<string, Closure>();
  /** The latest close time among the closures dropped past the cap */
  #forgottenUpTo = -Infinity;

  constructor(readonly cap: number) {}

  get size(): number {
    return this.#byId.size;
  }

  /** Notes a handoff closed at `closedAt` (a time that is not a number is not noted) */
  note(h: ClosedHandoff, closedAt: number): void {
    if (Number.isNaN(closedAt)) return;
    const { task_message_id, task_id, conversation_id, from, to, attempt, created_at } = h;
    this.#byId.delete(task_message_id);
    this.#byId.set(task_message_id, {
      handoff: { task_message_id, task_id, conversation_id, from, to, attempt, created_at },
      closedAt,
    });
    if (this.#byId.size <= this.cap + (this.cap >> 3)) return;
    let excess = this.#byId.size - this.cap;
    for (const [id, c] of this.#byId) {
      if (excess-- <= 0) break;
      this.#forgottenUpTo = Math.max(this.#forgottenUpTo, c.closedAt);
      this.#byId.delete(id);
    }
  }

  /** Handoffs to `agent` made by `at` and closed after it (ms since the epoch), oldest noted first */
  openAt(agent: string, at: number): ClosedHandoff[] {
    const out: ClosedHandoff[] = [];
    for (const { handoff, closedAt } of this.#byId.values()) {
      if (handoff.to === agent && closedAt > at && Date.parse(handoff.created_at) <= at) {
        out.push(handoff);
      }
    }
    return out;
  }

  /** Whether a handoff closed after `at` may have been dropped past the cap */
  forgotAfter(at: number): boolean {
    return this.#forgottenUpTo > at;
  }
}
