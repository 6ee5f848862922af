/** Sends a user request to the orchestrator and waits for its answer in the user's inbox. */

import {
  createEnvelope,
  encodeEnvelope,
  type Envelope,
  parseEnvelope,
} from "./protocol/envelope.ts";
import type { Bus, OutgoingRecord } from "./kafka_bus.ts";
import { SENDER_HEADER, topicFor, topicPrefix, USER_INBOX } from "./topics.ts";
import { childSpan, formatTraceparent, TRACEPARENT_HEADER } from "./trace_context.ts";

export interface SubmitOptions {
  bus: Bus;
  request: string;
  /** Explicit steps (agent names) instead of the orchestrator's own plan */
  plan?: string[];
  timeoutMs: number;
  prefix?: string;
  conversationId?: string;
}

export interface SubmitOutcome {
  conversation_id: string;
  /** The RESULT or ERROR that answered, or undefined on timeout */
  reply?: Envelope;
  traceparent: string;
}

/** A user request to the orchestrator as a record for its queue: the one way anyone builds it */
export function userRequest(options: {
  conversationId: string;
  request: string;
  deadline: Date;
  prefix?: string;
  plan?: string[];
  traceparent?: string;
}): OutgoingRecord {
  const task = createEnvelope({
    type: "TASK",
    source: USER_INBOX,
    target: "orchestrator",
    conversation_id: options.conversationId,
    task_id: options.conversationId,
    deadline: options.deadline,
    payload: { request: options.request, ...(options.plan ? { plan: options.plan } : {}) },
  });
  return {
    topic: topicFor("orchestrator", options.prefix ?? topicPrefix()),
    key: options.conversationId,
    value: encodeEnvelope(task),
    headers: {
      ...(options.traceparent ? { [TRACEPARENT_HEADER]: options.traceparent } : {}),
      [SENDER_HEADER]: USER_INBOX,
    },
  };
}

export async function submitRequest(options: SubmitOptions): Promise<SubmitOutcome> {
  const prefix = options.prefix ?? topicPrefix();
  const inbox = topicFor(USER_INBOX, prefix);
  const conversationId = options.conversationId ?? `conv-${crypto.randomUUID().slice(0, 8)}`;
  const groupId = `submit-${conversationId}`;
  const answered = Promise.withResolvers<Envelope>();
  // both queues asked about first: a missing one is a MissingTopicError naming it
  await options.bus.requireTopics([inbox, topicFor("orchestrator", prefix)]);
  const start = await options.bus.highWatermarks(inbox);
  const sub = await options.bus.consume({
    groupId,
    topics: [inbox],
    fromBeginning: false,
    seekTo: start.map((s) => ({ topic: inbox, ...s })),
    onRecord: (record) => {
      const parsed = parseEnvelope(record.value);
      if (
        parsed.ok && parsed.envelope.conversation_id === conversationId &&
        (parsed.envelope.type === "RESULT" || parsed.envelope.type === "ERROR")
      ) answered.resolve(parsed.envelope);
      return Promise.resolve();
    },
  });
  const trace = childSpan(undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await options.bus.send([userRequest({
      conversationId,
      request: options.request,
      deadline: new Date(Date.now() + options.timeoutMs),
      prefix,
      ...(options.plan ? { plan: options.plan } : {}),
      traceparent: formatTraceparent(trace),
    })]);
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), options.timeoutMs + 2_000);
    });
    const reply = await Promise.race([answered.promise, timeout]);
    return {
      conversation_id: conversationId,
      traceparent: formatTraceparent(trace),
      ...(reply ? { reply } : {}),
    };
  } finally {
    clearTimeout(timer);
    // the reply is in hand or the wait failed: a subscription that will not stop holds nothing
    await sub.stop().catch(() => {});
    await options.bus.deleteGroup(groupId);
  }
}
