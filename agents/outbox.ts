/**
 * What an agent sends, and how: every envelope addressed to its target's queue, keyed by its
 * conversation, with the sender and a child span of the trace in its headers; sent with retries
 * while the broker is away or a queue is missing (each retry logged, a missing queue named with
 * how to create it), given up only during shutdown.
 */

import type { AgentContext } from "./agent_module.ts";
import type { StoredReply } from "./done_store.ts";
import { encodeEnvelope, type Envelope } from "./protocol/envelope.ts";
import type { Bus } from "./kafka_bus.ts";
import { sleep } from "./sleep.ts";
import { SENDER_HEADER, topicFor } from "./topics.ts";
import {
  childSpan,
  formatTraceparent,
  type TraceContext,
  TRACEPARENT_HEADER,
} from "./trace_context.ts";
import { backoffMs } from "./backoff.ts";
import { MissingTopicError, missingTopicLine } from "./missing_topic.ts";

/** Attempts a send makes during shutdown before it gives up */
const ATTEMPTS_WHEN_STOPPING = 3;
/** The longest pause between two attempts */
const MAX_BACKOFF_MS = 5_000;

export class Outbox {
  #stopping = false;

  constructor(
    readonly bus: Bus,
    readonly agent: string,
    readonly prefix: string,
    readonly log: AgentContext["log"],
  ) {}

  /** The queue `agent` reads */
  queueOf(agent: string): string {
    return topicFor(agent, this.prefix);
  }

  /** Whether `agent` has a queue; rejects when the broker cannot tell */
  async hasQueue(agent: string): Promise<boolean> {
    return await this.bus.topicExists(this.queueOf(agent));
  }

  /** The record that carries `env` to its target, in a child span of `trace` */
  address(env: Envelope, trace: TraceContext): StoredReply {
    return {
      topic: this.queueOf(env.target),
      key: env.conversation_id,
      value: encodeEnvelope(env),
      headers: {
        [TRACEPARENT_HEADER]: formatTraceparent(childSpan(trace)),
        [SENDER_HEADER]: this.agent,
      },
    };
  }

  /**
   * Sends, retrying with backoff while the broker is away; false only when it gave up during
   * shutdown
   */
  async send(records: StoredReply[]): Promise<boolean> {
    if (records.length === 0) return true;
    for (let attempt = 1;; attempt++) {
      try {
        await this.bus.send(records);
        return true;
      } catch (err) {
        const error = err instanceof MissingTopicError
          ? missingTopicLine(err, this.prefix)
          : String(err);
        this.log("warn", "send failed, retrying", { attempt, error });
        if (this.#stopping && attempt >= ATTEMPTS_WHEN_STOPPING) return false;
        await sleep(backoffMs(attempt, 200, MAX_BACKOFF_MS));
      }
    }
  }

  /** Shutdown began: a send that keeps failing gives up after a few attempts */
  stopping(): void {
    this.#stopping = true;
  }
}
