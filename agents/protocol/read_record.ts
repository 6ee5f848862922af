/**
 * One Kafka record (value, key, headers) read by the dialects a reader allows, in one order:
 * 1. a CloudEvent in binary mode (`ce_specversion` header) is unwrapped, its data read by 3-5;
 * 2. the value is parsed as JSON once;
 * 3. our envelope (`mat`), first: it is what our own agents send;
 * 4. a CloudEvent in structured mode is unwrapped, its data read by 3-5;
 * 5. the declared mappings, in the order given, then A2A (objects, or JSON-RPC carrying them).
 * The first dialect that reads it wins, and says so in `dialect`. A record none reads gets every
 * dialect's reason, ours first.
 */

import { readA2a } from "./a2a.ts";
import {
  binaryCloudEvent,
  type CloudEvent,
  isBinaryCloudEvent,
  isStructuredCloudEvent,
  structuredCloudEvent,
} from "./cloudevents.ts";
import { recordText, validateEnvelope } from "./envelope.ts";
import { isRecord } from "../is_record.ts";
import { isJsonRpc, readJsonRpc } from "./jsonrpc.ts";
import type { Mapping } from "./mapping.ts";
import { readMapped } from "./mapping_read.ts";
import type { DialectRead, NormalizedMessage } from "./normalized.ts";

/** Which dialects a reader allows (OBSERVER_DIALECTS), and the declared mappings */
export interface DialectChoice {
  mat: boolean;
  cloudevents: boolean;
  a2a: boolean;
  mappings: readonly Mapping[];
}

/** Every built-in dialect, no mapping */
export const ALL_DIALECTS: DialectChoice = {
  mat: true,
  cloudevents: true,
  a2a: true,
  mappings: [],
};

export interface RawRecord {
  key: string | null;
  value: Uint8Array | string | null | undefined;
  headers: Readonly<Record<string, string>>;
}

/** A message read from our envelope, or why the envelope is not one */
function readMat(json: unknown): DialectRead {
  // The validator's own first verdict, without the exception it costs (most foreign records)
  if (isRecord(json) && !("schema_version" in json)) {
    return { ok: false, reason: `"schema_version" must be an integer >= 1, got nothing` };
  }
  const parsed = validateEnvelope(json);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const e = parsed.envelope;
  const kind = e.type === "TASK"
    ? "task"
    : e.type === "RESULT"
    ? "reply_ok"
    : e.type === "ERROR"
    ? "reply_failed"
    : e.type === "CANCEL"
    ? "cancel"
    : "other";
  const message: NormalizedMessage = {
    dialect: "mat",
    kind,
    message_id: e.message_id,
    sender: e.source,
    receiver: e.target,
    conversation_id: e.conversation_id,
    task_id: e.task_id,
    attempt: e.attempt,
    created_at: e.created_at,
    payload: e.payload,
  };
  if (e.in_reply_to !== undefined) message.in_reply_to = e.in_reply_to;
  if (e.deadline !== undefined) message.deadline = e.deadline;
  if (e.error !== undefined) message.error = e.error;
  if (e.usage !== undefined) message.usage = e.usage;
  return { ok: true, message };
}

/** The dialects after ours: the mappings, then A2A */
function readForeign(json: unknown, r: RawRecord, choice: DialectChoice): DialectRead[] {
  const reads: DialectRead[] = [];
  for (const m of choice.mappings) {
    const read = readMapped(m, { value: json, headers: r.headers, key: r.key });
    if (read.ok) return [read];
    reads.push(read);
  }
  if (choice.a2a) {
    const read = isJsonRpc(json) ? readJsonRpc(json) : readA2a(json);
    if (read.ok) return [read];
    reads.push({ ok: false, reason: `A2A: ${read.reason}` });
  }
  return reads;
}

/** Every reading of a JSON value, stopping at the first that works */
function readJson(json: unknown, r: RawRecord, choice: DialectChoice): DialectRead[] {
  const reads: DialectRead[] = [];
  if (choice.mat) {
    const read = readMat(json);
    if (read.ok) return [read];
    reads.push(read);
  }
  return [...reads, ...readForeign(json, r, choice)];
}

/** The message inside a CloudEvent, with the event's attributes */
function inside(event: CloudEvent, r: RawRecord, choice: DialectChoice): DialectRead {
  const reads = readJson(event.data, r, choice);
  const read = reads.find((x) => x.ok);
  if (read === undefined || !read.ok) {
    const reasons = reads.map((x) => (x.ok ? "" : x.reason)).join("; ");
    return {
      ok: false,
      reason: `CloudEvent "${event.attributes.type}" from "${event.attributes.source}": its data ` +
        `is no message any dialect reads (${reasons || "no dialect allowed"})`,
    };
  }
  const m = read.message;
  const message: NormalizedMessage = {
    ...m,
    dialect: `${event.mode}/${m.dialect}`,
    cloudevent: event.attributes,
  };
  if (m.created_at === undefined && event.attributes.time !== undefined) {
    message.created_at = event.attributes.time;
  }
  if (m.traceparent === undefined && event.traceparent !== undefined) {
    message.traceparent = event.traceparent;
  }
  return { ok: true, message };
}

/** Reads one record with the dialects allowed, or gives every dialect's reason it is none */
export function readRecord(r: RawRecord, choice: DialectChoice): DialectRead {
  const read = recordText(r.value);
  if (!read.ok) return read;
  const text = read.text;
  if (choice.cloudevents && isBinaryCloudEvent(r.headers)) {
    const event = binaryCloudEvent(r.headers, text);
    return event.ok ? inside(event.event, r, choice) : event;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof SyntaxError ? err.message : String(err);
    return { ok: false, reason: `record value is not JSON: ${detail}` };
  }
  const reads: DialectRead[] = [];
  if (choice.mat) {
    const read = readMat(json);
    if (read.ok) return read;
    reads.push(read);
  }
  if (choice.cloudevents && isStructuredCloudEvent(r.headers, json)) {
    const event = structuredCloudEvent(json);
    return event.ok ? inside(event.event, r, choice) : event;
  }
  for (const read of readForeign(json, r, choice)) {
    if (read.ok) return read;
    reads.push(read);
  }
  return {
    ok: false,
    reason: reads.map((x) => (x.ok ? "" : x.reason)).join("; ") || "no dialect is allowed",
  };
}
