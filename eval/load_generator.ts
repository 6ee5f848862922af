/**
 * A steady load on many agents at once: TASKs written straight to the agents' queues, as the user
 * (`source: "user"`, so every answer comes back to the user inbox the eval's client reads), spread
 * round-robin over the agents and, by their keys, over the partitions. The rate is the knob of a
 * load, so the loop is paced by the clock: every tick sends the tasks due by then. `mark` makes the
 * tasks of one agent carry a text (an AGENT_FAULTS rule's `match`), so a fault fires only while a
 * scenario wants it.
 */

import {
  createEnvelope,
  encodeEnvelope,
  type KafkaBus,
  type OutgoingRecord,
  SENDER_HEADER,
  topicFor,
  USER_INBOX,
} from "@mat/agents";

export interface LoadOptions {
  bus: Pick<KafkaBus, "send">;
  prefix: string;
  agents: readonly string[];
  /** Tasks a second, over all the agents */
  ratePerS: number;
  /** Each task's deadline, from when it is sent (default 60 s) */
  deadlineMs?: number;
  log?: (line: string) => void;
}

/** How often the loop sends the tasks due */
const TICK_MS = 100;

export class LoadGenerator {
  /** Conversation ids of every task sent, in order */
  readonly sent: string[] = [];
  readonly #o: LoadOptions;
  readonly #marks = new Map<string, string>();
  #next = 0;
  #running: Promise<void> | undefined;
  #stop = false;
  #startedAt = 0;
  #stoppedAt = 0;
  /** Sends that failed (the broker away: a blip); their tasks were not sent */
  failedSends = 0;

  constructor(options: LoadOptions) {
    if (!(options.ratePerS > 0) || options.agents.length === 0) {
      throw new RangeError(
        `A load needs a rate above 0 and an agent, got ${options.ratePerS}/s over ${options.agents.length}`,
      );
    }
    this.#o = options;
  }

  /** Starts sending; resolves once the first tasks are sent */
  async start(): Promise<void> {
    this.#startedAt = Date.now();
    await this.#send(1);
    this.#running = this.#loop();
  }

  /** From now on the tasks of `agent` carry `text` in their instruction (undefined: none) */
  mark(agent: string, text: string | undefined): void {
    if (text === undefined) this.#marks.delete(agent);
    else this.#marks.set(agent, text);
  }

  /** Tasks sent a second, from the start to the stop (or to now) */
  get achievedPerS(): number {
    const end = this.#stoppedAt || Date.now();
    return end > this.#startedAt ? this.sent.length / ((end - this.#startedAt) / 1000) : 0;
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#running;
    this.#stoppedAt = Date.now();
    this.#o.log?.(
      `load: ${this.sent.length} tasks sent at ${this.achievedPerS.toFixed(0)}/s` +
        (this.failedSends > 0 ? `, ${this.failedSends} send(s) failed` : ""),
    );
  }

  async #loop(): Promise<void> {
    while (!this.#stop) {
      await new Promise((r) => setTimeout(r, TICK_MS));
      const due = Math.floor(((Date.now() - this.#startedAt) / 1000) * this.#o.ratePerS);
      const n = due - this.sent.length;
      // A backlog (a send that waited on the broker) is sent in parts of a few ticks' worth
      if (n > 0) await this.#send(Math.min(n, Math.ceil((this.#o.ratePerS * TICK_MS) / 250)));
    }
  }

  async #send(n: number): Promise<void> {
    const deadline = new Date(Date.now() + (this.#o.deadlineMs ?? 60_000));
    const records: OutgoingRecord[] = [];
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const agent = this.#o.agents[this.#next++ % this.#o.agents.length] ?? "";
      const id = `conv-${crypto.randomUUID().slice(0, 12)}`;
      const mark = this.#marks.get(agent);
      const task = createEnvelope({
        type: "TASK",
        source: USER_INBOX,
        target: agent,
        conversation_id: id,
        task_id: id,
        deadline,
        payload: {
          instruction: `Task ${this.sent.length + i} for ${agent}${mark ? ` ${mark}` : ""}`,
        },
      });
      ids.push(id);
      records.push({
        topic: topicFor(agent, this.#o.prefix),
        key: id,
        value: encodeEnvelope(task),
        headers: { [SENDER_HEADER]: USER_INBOX },
      });
    }
    try {
      await this.#o.bus.send(records);
      this.sent.push(...ids);
    } catch (err) {
      // The broker away (a blip): these tasks are not sent; the clock's due count sends more
      this.failedSends++;
      this.#o.log?.(`load: a send failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
