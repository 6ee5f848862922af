/**
 * The open handoffs of the observer's state, with the indexes kept beside them (not state of their
 * own): how many are open per agent, and which attempts of a task to an agent are open. A state
 * restored from a snapshot that left some out still counts them per agent until replies to
 * handoffs it does not know come from that agent.
 */

import type { MessageRecord, ObserverStateData } from "./record_format.ts";

export type HandoffData = ObserverStateData["handoffs_open"][number];

/** What a TASK's message says of the handoff it opens: who to whom, which task and attempt */
export function handoffOf(r: MessageRecord): Pick<
  HandoffData,
  "task_message_id" | "task_id" | "conversation_id" | "from" | "to" | "attempt" | "created_at"
> {
  return {
    task_message_id: r.message_id,
    task_id: r.task_id,
    conversation_id: r.conversation_id,
    from: r.source,
    to: r.target,
    attempt: r.attempt,
    created_at: r.created_at,
  };
}

export class OpenHandoffs {
  readonly #byId = new Map<string, HandoffData>();
  readonly #byAgent = new Map<string, number>();
  readonly #byTask = new Map<string, Set<string>>();
  /** Open handoffs per agent that a cut snapshot left out */
  readonly #omittedByAgent = new Map<string, number>();

  /** At most `cap` plus an eighth are open; past it the oldest go down to `cap` */
  constructor(readonly cap: number) {}

  get size(): number {
    return this.#byId.size;
  }

  get(taskMessageId: string): HandoffData | undefined {
    return this.#byId.get(taskMessageId);
  }

  has(taskMessageId: string): boolean {
    return this.#byId.has(taskMessageId);
  }

  /** Task message ids, oldest opened first */
  keys(): MapIterator<string> {
    return this.#byId.keys();
  }

  /** Open handoffs, oldest opened first */
  values(): MapIterator<HandoffData> {
    return this.#byId.values();
  }

  /** Opens a handoff (replacing an open one of the same id); returns how many old ones it dropped */
  open(h: HandoffData): number {
    this.remove(h.task_message_id);
    this.#byId.set(h.task_message_id, h);
    this.#byAgent.set(h.to, (this.#byAgent.get(h.to) ?? 0) + 1);
    const key = `${h.task_id}|${h.to}`;
    const ids = this.#byTask.get(key) ?? new Set<string>();
    ids.add(h.task_message_id);
    this.#byTask.set(key, ids);
    // Past the cap plus an eighth, the oldest go in one pass (one at a time, each lookup of the
    // oldest would walk the deleted entries at the map's head)
    const cap = this.cap;
    if (this.#byId.size <= cap + (cap >> 3)) return 0;
    const oldest: string[] = [];
    let excess = this.#byId.size - cap;
    for (const id of this.#byId.keys()) {
      if (excess-- <= 0) break;
      oldest.push(id);
    }
    for (const id of oldest) this.remove(id);
    return oldest.length;
  }

  /** Removes an open handoff; returns whether it was open */
  remove(taskMessageId: string): boolean {
    const h = this.#byId.get(taskMessageId);
    if (h === undefined) return false;
    this.#byId.delete(taskMessageId);
    const n = (this.#byAgent.get(h.to) ?? 1) - 1;
    if (n > 0) this.#byAgent.set(h.to, n);
    else this.#byAgent.delete(h.to);
    const key = `${h.task_id}|${h.to}`;
    const ids = this.#byTask.get(key);
    ids?.delete(taskMessageId);
    if (ids !== undefined && ids.size === 0) this.#byTask.delete(key);
    return true;
  }

  /**
   * Closes the handoff a reply from `agent` answers: removes it when it is open (true), else counts
   * down the agent's handoffs a cut snapshot left out, if any (it was one of them)
   */
  close(taskMessageId: string, agent: string): boolean {
    if (this.remove(taskMessageId)) return true;
    const omitted = this.#omittedByAgent.get(agent);
    if (omitted !== undefined) {
      if (omitted > 1) this.#omittedByAgent.set(agent, omitted - 1);
      else this.#omittedByAgent.delete(agent);
    }
    return false;
  }

  /** Handoffs open on an agent, those a cut snapshot left out included */
  inFlight(agent: string): number {
    return (this.#byAgent.get(agent) ?? 0) + (this.#omittedByAgent.get(agent) ?? 0);
  }

  /** The oldest open attempt of a task to an agent */
  oldestAttempt(taskId: string, agent: string): HandoffData | undefined {
    const first = this.#byTask.get(`${taskId}|${agent}`)?.values().next();
    return first === undefined || first.done ? undefined : this.#byId.get(first.value);
  }

  /** Counts what a snapshot's `open_by_agent` holds beyond the handoffs it listed */
  restoreOmitted(openByAgent: Record<string, number>): void {
    for (const [agent, n] of Object.entries(openByAgent)) {
      const missing = n - this.inFlight(agent);
      if (missing > 0) this.#omittedByAgent.set(agent, missing);
    }
  }

  /** Open handoffs per agent, all of them (a snapshot's `open_by_agent`) */
  countsByAgent(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const agent of new Set([...this.#byAgent.keys(), ...this.#omittedByAgent.keys()])) {
      counts[agent] = this.inFlight(agent);
    }
    return counts;
  }
}
