/** A user of the system: sends requests to the orchestrator, collects answers from the inbox. */

import {
  type Envelope,
  type KafkaBus,
  parseEnvelope,
  type Subscription,
  topicFor,
  USER_INBOX,
} from "@mat/agents";
import { userRequest } from "@mat/agents/submit";
import { until } from "./until.ts";

/** Sends user requests to the orchestrator and collects the answers in the user's inbox */
export class Client {
  readonly answers = new Map<string, Envelope>();
  #sub: Subscription | undefined;

  private constructor(readonly bus: KafkaBus, readonly prefix: string) {}

  static async start(bus: KafkaBus, prefix: string): Promise<Client> {
    const client = new Client(bus, prefix);
    const inbox = topicFor(USER_INBOX, prefix);
    const start = await bus.highWatermarks(inbox);
    client.#sub = await bus.consume({
      groupId: `eval-client-${crypto.randomUUID().slice(0, 8)}`,
      topics: [inbox],
      fromBeginning: false,
      seekTo: start.map((s) => ({ topic: inbox, ...s })),
      onRecord: (record) => {
        const parsed = parseEnvelope(record.value);
        const e = parsed.ok ? parsed.envelope : undefined;
        if (e !== undefined && (e.type === "RESULT" || e.type === "ERROR")) {
          if (!client.answers.has(e.conversation_id)) client.answers.set(e.conversation_id, e);
        }
        return Promise.resolve();
      },
    });
    return client;
  }

  /** Sends requests at once; returns their conversation ids */
  async send(requests: string[], deadlineMs = 60_000): Promise<string[]> {
    const ids: string[] = [];
    const deadline = new Date(Date.now() + deadlineMs);
    const records = requests.map((request) => {
      const conversationId = `conv-${crypto.randomUUID().slice(0, 8)}`;
      ids.push(conversationId);
      return userRequest({ conversationId, request, deadline, prefix: this.prefix });
    });
    // Right after a broker restart, metadata can lag: retry what the broker calls retriable.
    await until("the requests sent", async () => {
      try {
        await this.bus.send(records);
        return true;
      } catch (err) {
        if (typeof err === "object" && err !== null && "retriable" in err && err.retriable) {
          return undefined;
        }
        throw err;
      }
    });
    return ids;
  }

  /** Waits until every conversation is answered (RESULT or ERROR) */
  async wait(ids: string[], timeoutMs = 90_000): Promise<Envelope[]> {
    return await until(
      `answers to ${ids.length} request(s)`,
      () => {
        const got = ids.flatMap((id) => this.answers.get(id) ?? []);
        return got.length === ids.length ? got : undefined;
      },
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    // stopping: a subscription that fails to stop has nothing left to read
    await this.#sub?.stop().catch(() => {});
  }
}
