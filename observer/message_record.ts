/**
 * Turns one Kafka record into the body of its `message` record (a record a dialect reads: our
 * envelope, A2A, CloudEvents, a declared mapping) or `message_malformed` (anything else, with
 * every dialect's reason). Never throws on bad input.
 *
 * What a dialect leaves unsaid is filled in, and where it came from recorded:
 * - the sender: the dialect's (a CloudEvent's `source` names it too), else a sender header
 *   (`x-agent`, `x-sender`, `sender`), else the record key when it names an agent queue, else
 *   `unknown` (`source_from`);
 * - the receiver: the dialect's, else the agent whose queue the record is on;
 * - the time it was made: the dialect's, else the Kafka timestamp, else when it was seen.
 */

import {
  type DialectChoice,
  isAgentLabel,
  messageTypeOf,
  type NormalizedMessage,
  readRecord,
  SENDER_HEADER,
  TopicPattern,
  TRACEPARENT_HEADER,
} from "@mat/agents/protocol";
import type { KafkaRecord } from "./kafka_adapter.ts";
import type { Body, MessageMalformedRecord, MessageRecord } from "./record_format.ts";
import { previewBytes, previewJson, redactText } from "./payload_preview.ts";

export type MessageBody = Body<MessageRecord>;
export type MalformedBody = Body<MessageMalformedRecord>;

/** Headers that name the producing agent, in the order they are believed */
export const SENDER_HEADERS = [SENDER_HEADER, "x-sender", "sender"] as const;

/**
 * Headers that name the message a reply answers (the A2A Kafka transport proposals'
 * `correlation_id`, Spring Kafka's `kafka_correlationId`), read when the value names none
 */
export const CORRELATION_HEADERS = [
  "correlation_id",
  "correlation-id",
  "correlationId",
  "kafka_correlationId",
] as const;

export interface MessageReading {
  topics: TopicPattern;
  dialects: DialectChoice;
  previewBytes: number;
  /** Whether a name is an agent queue's agent (the record key is the sender only then) */
  isAgent?: (name: string) => boolean;
}

/** The agent a CloudEvent `source` names: itself, or the last segment of its URI */
function agentOfSource(source: string): string | undefined {
  if (isAgentLabel(source)) return source;
  const last = source.split(/[/:#]/).filter((s) => s !== "").at(-1);
  return last !== undefined && isAgentLabel(last) ? last : undefined;
}

type SourceFrom = NonNullable<MessageRecord["source_from"]>;

function senderOf(
  m: NormalizedMessage | undefined,
  record: KafkaRecord,
  reading: MessageReading,
): { name: string; from: SourceFrom } | undefined {
  if (m?.sender !== undefined && m.sender !== "") return { name: m.sender, from: "dialect" };
  const ce = m?.cloudevent === undefined ? undefined : agentOfSource(m.cloudevent.source);
  if (ce !== undefined) return { name: ce, from: "dialect" };
  for (const h of SENDER_HEADERS) {
    const v = record.headers[h];
    if (v !== undefined && isAgentLabel(v)) return { name: v, from: "header" };
  }
  if (record.key !== null && reading.isAgent?.(record.key) === true) {
    return { name: record.key, from: "key" };
  }
  return undefined;
}

export function messageBody(
  record: KafkaRecord,
  reading: MessageReading,
  observedAt: Date,
): MessageBody | MalformedBody {
  const agent = reading.topics.agentOf(record.topic) ?? null;
  const observed = observedAt.toISOString();
  const coordinates = { topic: record.topic, partition: record.partition, offset: record.offset };
  const read = readRecord(record, reading.dialects);
  if (!read.ok) {
    const preview = previewBytes(record.value, reading.previewBytes);
    const sender = senderOf(undefined, record, reading);
    return {
      type: "message_malformed",
      ...coordinates,
      observed_at: observed,
      agent,
      ...(sender !== undefined ? { sender: sender.name } : {}),
      reason: redactText(read.reason).value,
      value_bytes: record.value?.byteLength ?? 0,
      value_preview: preview.preview,
      redactions: preview.redactions,
    };
  }
  const m = read.message;
  const preview = previewJson(m.payload, reading.previewBytes);
  const kafkaTime = Number.isFinite(record.timestamp) && record.timestamp > 0
    ? new Date(record.timestamp).toISOString()
    : null;
  const sender = senderOf(m, record, reading);
  const body: MessageBody = {
    type: "message",
    ...coordinates,
    observed_at: observed,
    kafka_timestamp: kafkaTime,
    key: record.key,
    agent,
    message_id: m.message_id,
    msg_type: messageTypeOf(m.kind),
    source: sender?.name ?? "unknown",
    target: m.receiver ?? agent ?? "unknown",
    conversation_id: m.conversation_id,
    task_id: m.task_id,
    attempt: m.attempt,
    created_at: m.created_at ?? kafkaTime ?? observed,
    payload_bytes: record.value?.byteLength ?? 0,
    payload_preview: preview.preview,
    payload_truncated: preview.truncated,
    redactions: preview.redactions,
  };
  const replyTo = m.in_reply_to ??
    (m.kind === "task" ? undefined : CORRELATION_HEADERS.map((h) => record.headers[h]).find(
      (v) => v !== undefined && v !== "",
    ));
  if (replyTo !== undefined) body.in_reply_to = replyTo;
  if (m.deadline !== undefined) body.deadline = m.deadline;
  const traceparent = m.traceparent ?? record.headers[TRACEPARENT_HEADER];
  if (traceparent !== undefined) body.traceparent = traceparent;
  if (m.error !== undefined) {
    const text = redactText(m.error.message);
    body.error = { kind: m.error.kind, message: text.value, retryable: m.error.retryable };
    body.redactions += text.redactions;
  }
  if (m.usage !== undefined) body.usage = { ...m.usage };
  body.dialect = m.dialect;
  body.source_from = sender?.from ?? "unknown";
  if (m.waiting_on !== undefined) body.waiting_on = m.waiting_on;
  if (m.cloudevent !== undefined) {
    const ce = redactText(JSON.stringify(m.cloudevent));
    body.cloudevent = ce.redactions > 0
      ? { type: "[REDACTED]", source: "[REDACTED]", id: m.cloudevent.id }
      : { ...m.cloudevent };
    body.redactions += ce.redactions;
  }
  return body;
}
