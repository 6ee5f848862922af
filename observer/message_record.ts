/**
 * Turns one Kafka record into the body of its `message` (a valid envelope) or
 * `message_malformed` (anything else) record. Never throws on bad input.
 */

import {
  agentOfTopic,
  isAgentName,
  parseEnvelope,
  SENDER_HEADER,
  TRACEPARENT_HEADER,
} from "@mat/agents/protocol";
import type { KafkaRecord } from "./kafka_adapter.ts";
import type { Body, MessageMalformedRecord, MessageRecord } from "./record_format.ts";
import { previewBytes, previewJson, redactText } from "./payload_preview.ts";

export type MessageBody = Body<MessageRecord>;
export type MalformedBody = Body<MessageMalformedRecord>;

export function messageBody(
  record: KafkaRecord,
  prefix: string,
  previewMax: number,
  observedAt: Date,
): MessageBody | MalformedBody {
  const agent = agentOfTopic(record.topic, prefix) ?? null;
  const observed = observedAt.toISOString();
  const coordinates = { topic: record.topic, partition: record.partition, offset: record.offset };
  const parsed = parseEnvelope(record.value);
  const sender = record.headers[SENDER_HEADER];
  if (!parsed.ok) {
    const preview = previewBytes(record.value, previewMax);
    return {
      type: "message_malformed",
      ...coordinates,
      observed_at: observed,
      agent,
      ...(sender !== undefined && isAgentName(sender) ? { sender } : {}),
      reason: redactText(parsed.reason).value,
      value_bytes: record.value?.byteLength ?? 0,
      value_preview: preview.preview,
      redactions: preview.redactions,
    };
  }
  const e = parsed.envelope;
  const preview = previewJson(e.payload, previewMax);
  const body: MessageBody = {
    type: "message",
    ...coordinates,
    observed_at: observed,
    kafka_timestamp: Number.isFinite(record.timestamp) && record.timestamp > 0
      ? new Date(record.timestamp).toISOString()
      : null,
    key: record.key,
    agent,
    message_id: e.message_id,
    msg_type: e.type,
    source: e.source,
    target: e.target,
    conversation_id: e.conversation_id,
    task_id: e.task_id,
    attempt: e.attempt,
    created_at: e.created_at,
    payload_bytes: record.value?.byteLength ?? 0,
    payload_preview: preview.preview,
    payload_truncated: preview.truncated,
    redactions: preview.redactions,
  };
  if (e.in_reply_to !== undefined) body.in_reply_to = e.in_reply_to;
  if (e.deadline !== undefined) body.deadline = e.deadline;
  const traceparent = record.headers[TRACEPARENT_HEADER];
  if (traceparent !== undefined) body.traceparent = traceparent;
  if (e.error !== undefined) {
    const m = redactText(e.error.message);
    body.error = { kind: e.error.kind, message: m.value, retryable: e.error.retryable };
    body.redactions += m.redactions;
  }
  if (e.usage !== undefined) body.usage = { ...e.usage };
  return body;
}
