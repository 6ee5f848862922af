/**
 * What every dialect turns a Kafka record into: the facts the observer folds, whoever wrote the
 * record (our envelope, an A2A SDK, a CloudEvents producer, a team's own JSON read by a declared
 * mapping). A dialect says only what the record says; the reader of the record fills the rest
 * (the sender from a header or the key, the receiver from the topic, the time from Kafka) and
 * records where each came from.
 */

import type { EnvelopeError, LlmUsage, MessageType } from "./envelope.ts";

/** What a message does to the work between two agents */
export const MESSAGE_KINDS = [
  /** Hands a unit of work to the receiver */
  "task",
  /** Answers a task: done */
  "reply_ok",
  /** Answers a task: failed (its `error` says how) */
  "reply_failed",
  /** Answers a task: cancelled */
  "cancel",
  /** Says how a task is going, without answering it (an A2A `working` or `input-required`) */
  "progress",
  /** Anything else a dialect reads (an artifact update, a heartbeat) */
  "other",
] as const;
export type MessageKind = typeof MESSAGE_KINDS[number];

/** What a task waits on when it waits on a person: input (A2A `INPUT_REQUIRED`) or auth */
export const WAITING_ON = ["input", "auth"] as const;
export type WaitingOn = typeof WAITING_ON[number];

/** The dialects a record can be read by; a path of them when one wraps another */
export const DIALECT_NAMES = [
  "mat",
  "cloudevents-binary",
  "cloudevents-structured",
  "jsonrpc",
  "a2a-v1",
  "a2a-v0.3",
  "mapping",
] as const;
export type DialectName = typeof DIALECT_NAMES[number];

/** CloudEvents context attributes kept from the event that carried a message */
export interface CloudEventAttributes {
  type: string;
  source: string;
  id: string;
  subject?: string;
  time?: string;
}

export interface NormalizedMessage {
  /**
   * The dialects that read it, outermost first, joined by "/": `mat`, `a2a-v1`,
   * `cloudevents-binary/a2a-v1`, `cloudevents-structured/jsonrpc/a2a-v0.3`, `mapping:ops-jobs`
   */
  dialect: string;
  kind: MessageKind;
  message_id: string;
  /** The sending agent, when the dialect names it */
  sender?: string;
  /** The receiving agent, when the dialect names it (else the topic's agent) */
  receiver?: string;
  conversation_id: string;
  task_id: string;
  /** On a reply or progress: the `message_id` of the task it answers, when the record says */
  in_reply_to?: string;
  attempt: number;
  /** ISO 8601 UTC, when the record says when it was made */
  created_at?: string;
  deadline?: string;
  /** On `reply_failed` */
  error?: EnvelopeError;
  usage?: LlmUsage;
  /** On `progress`: the task waits on a person, which is no fault */
  waiting_on?: WaitingOn;
  /** What the message carries, for a preview (secrets are redacted by the reader) */
  payload: unknown;
  /** W3C trace context the dialect carries (CloudEvents `traceparent`) */
  traceparent?: string;
  cloudevent?: CloudEventAttributes;
}

/** The envelope type a kind is recorded as (`msg_type` of the observer's `message` record) */
export function messageTypeOf(kind: MessageKind): MessageType {
  switch (kind) {
    case "task":
      return "TASK";
    case "reply_ok":
      return "RESULT";
    case "reply_failed":
      return "ERROR";
    case "cancel":
      return "CANCEL";
    case "progress":
    case "other":
      return "HEARTBEAT";
  }
}

/** A dialect's verdict on one record: the message it read, or why it is not one of its own */
export type DialectRead =
  | { ok: true; message: NormalizedMessage }
  | { ok: false; reason: string };
