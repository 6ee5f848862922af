/**
 * What the loop does with each record, by what it holds. A record that is no envelope is logged
 * with its reason and coordinates, and a malformed `TASK` whose sender can be read is answered
 * `invalid_message`; a message for another agent is refused (`unknown_agent` to a `TASK`'s
 * sender). Then a `TASK` is answered, a `RESULT` or `ERROR` goes to the agent's reply handler, a
 * `CANCEL` aborts the task it names, and a `HEARTBEAT` is read and left.
 */

import type { AgentContext } from "./agent_module.ts";
import { AgentError } from "./agent_error.ts";
import { type Envelope, type EnvelopeParse, replyTo } from "./protocol/envelope.ts";
import type { IncomingRecord } from "./kafka_bus.ts";
import { malformedTaskReply } from "./malformed_reply.ts";
import type { Outbox } from "./outbox.ts";
import {
  childSpan,
  parseTraceparent,
  type TraceContext,
  TRACEPARENT_HEADER,
} from "./trace_context.ts";

/** Where a record was read, for the log */
export function coordinates(record: IncomingRecord): Record<string, unknown> {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

export interface RecordDispatcherDeps {
  agent: string;
  outbox: Outbox;
  /** The tasks running now, by message id, with what aborts each */
  running: Map<string, AbortController>;
  /** Answers a task; `where` is the record's coordinates */
  answer(task: Envelope, trace: TraceContext, where: Record<string, unknown>): Promise<void>;
  /** Gives a `RESULT` or `ERROR` to the agent's reply handler, if it has one */
  onReply(reply: Envelope, trace: TraceContext): Promise<void>;
  log: AgentContext["log"];
}

export class RecordDispatcher {
  constructor(readonly deps: RecordDispatcherDeps) {}

  /** Handles `record`, which `parsed` is the validator's verdict on */
  async dispatch(record: IncomingRecord, parsed: EnvelopeParse): Promise<void> {
    const { agent, outbox, running, log } = this.deps;
    if (!parsed.ok) {
      log("warn", "rejected malformed record", {
        reason: parsed.reason,
        ...coordinates(record),
      });
      await this.#answerMalformed(parsed.json, parsed.reason);
      return;
    }
    const env = parsed.envelope;
    const trace = childSpan(parseTraceparent(record.headers[TRACEPARENT_HEADER]));
    if (env.target !== agent) {
      const reason = `target "${env.target}" is not this agent "${agent}"`;
      log("warn", "rejected misaddressed message", { reason, message_id: env.message_id });
      if (env.type === "TASK") {
        await outbox.send([
          outbox.address(
            replyTo(env, "ERROR", {
              error: { kind: "unknown_agent", message: reason, retryable: false },
            }),
            trace,
          ),
        ]);
      }
      return;
    }
    switch (env.type) {
      case "TASK":
        return await this.deps.answer(env, trace, coordinates(record));
      case "RESULT":
      case "ERROR":
        return await this.deps.onReply(env, trace);
      case "CANCEL": {
        const task = [...running.entries()].find(([id]) => id === env.in_reply_to);
        task?.[1].abort(
          new AgentError("cancelled", "task cancelled by sender", {
            retryable: false,
          }),
        );
        log("info", "cancel received", { task_id: env.task_id, found: task !== undefined });
        return;
      }
      case "HEARTBEAT":
        return;
    }
  }

  /** A malformed `TASK` whose sender can be read still gets an `ERROR`, so it does not hang */
  async #answerMalformed(json: unknown, reason: string): Promise<void> {
    const { agent, outbox } = this.deps;
    const error = malformedTaskReply(json, reason, agent);
    if (error === undefined) return;
    if (await outbox.hasQueue(error.target).catch(() => false)) {
      await outbox.send([outbox.address(error, childSpan(undefined))]);
    }
  }
}
