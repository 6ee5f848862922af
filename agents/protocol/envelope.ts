/**
 * The message protocol: one envelope for every inter-agent message, and the one validator that
 * turns bytes from Kafka into either a typed envelope or a precise reason why not.
 *
 * Field names are snake_case because the envelope is a wire format read by other languages.
 * Version 1 fields never change meaning; new fields are added as optional.
 */

import { isRecord } from "../is_record.ts";

/** Version of the envelope format written by this code. */
export const ENVELOPE_SCHEMA_VERSION = 1;

/** Largest record value the validator accepts, in bytes. */
export const MAX_ENVELOPE_BYTES = 1024 * 1024;

export const MESSAGE_TYPES = ["TASK", "RESULT", "ERROR", "HEARTBEAT", "CANCEL"] as const;
export type MessageType = typeof MESSAGE_TYPES[number];

/** What went wrong, on an `ERROR` envelope. */
export const ERROR_KINDS = [
  "llm_rate_limit",
  "llm_error",
  "tool_error",
  "handler_error",
  "deadline_exceeded",
  "timeout",
  "invalid_message",
  "unknown_agent",
  "cancelled",
  "internal",
] as const;
export type ErrorKind = typeof ERROR_KINDS[number];

export interface EnvelopeError {
  kind: ErrorKind;
  message: string;
  retryable: boolean;
}

/** LLM usage of the work that produced a `RESULT`. */
export interface LlmUsage {
  model: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  latency_ms: number;
}

export interface Envelope {
  schema_version: number;
  message_id: string;
  type: MessageType;
  /** Agent that sent the message (`user` for a request from outside). */
  source: string;
  /** Agent whose queue the message is for. */
  target: string;
  /** One user request. */
  conversation_id: string;
  /** The unit of work the message belongs to. */
  task_id: string;
  /** On `RESULT`/`ERROR`/`CANCEL`: the `message_id` of the `TASK` it answers. */
  in_reply_to?: string;
  /** 1 for the first attempt at a task, then 2, 3... on retries. */
  attempt: number;
  /** ISO 8601 UTC. */
  created_at: string;
  /** ISO 8601 UTC; a `TASK` not answered by then is late. */
  deadline?: string;
  payload: Record<string, unknown>;
  error?: EnvelopeError;
  usage?: LlmUsage;
}

/** The validator's verdict: a typed envelope, or the reason the input is not one. */
export type EnvelopeParse =
  | { ok: true; envelope: Envelope }
  | { ok: false; reason: string; /** JSON value when the bytes were JSON */ json?: unknown };

const AGENT_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** Agent names are lower-case identifiers: they become topic and group names */
export function isAgentName(value: string): boolean {
  return AGENT_NAME.test(value);
}

function isIsoTime(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) &&
    !Number.isNaN(Date.parse(value));
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    return `"${shown}"`;
  }
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

class Reader {
  constructor(readonly obj: Record<string, unknown>, readonly where: string) {}

  string(key: string, check?: (s: string) => string | undefined): string {
    const v = this.obj[key];
    if (typeof v !== "string" || v.length === 0) {
      throw new EnvelopeShapeError(
        `${this.where}"${key}" must be a non-empty string, got ${
          v === undefined ? "nothing" : describe(v)
        }`,
      );
    }
    const problem = check?.(v);
    if (problem !== undefined) throw new EnvelopeShapeError(`${this.where}"${key}" ${problem}`);
    return v;
  }

  optionalString(key: string, check?: (s: string) => string | undefined): string | undefined {
    return this.obj[key] === undefined || this.obj[key] === null
      ? undefined
      : this.string(key, check);
  }

  number(key: string, min: number, integer: boolean): number {
    const v = this.obj[key];
    if (
      typeof v !== "number" || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))
    ) {
      throw new EnvelopeShapeError(
        `${this.where}"${key}" must be ${integer ? "an integer" : "a number"} >= ${min}, got ${
          v === undefined ? "nothing" : describe(v)
        }`,
      );
    }
    return v;
  }

  boolean(key: string): boolean {
    const v = this.obj[key];
    if (typeof v !== "boolean") {
      throw new EnvelopeShapeError(`${this.where}"${key}" must be a boolean, got ${describe(v)}`);
    }
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const v = this.string(key);
    const found = allowed.find((a) => a === v);
    if (found === undefined) {
      throw new EnvelopeShapeError(
        `${this.where}"${key}" must be one of ${allowed.join(", ")}, got ${describe(v)}`,
      );
    }
    return found;
  }

  record(key: string): Record<string, unknown> | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (!isRecord(v)) {
      throw new EnvelopeShapeError(`${this.where}"${key}" must be an object, got ${describe(v)}`);
    }
    return v;
  }
}

class EnvelopeShapeError extends Error {
  override name = "EnvelopeShapeError";
}

const agentCheck = (s: string) =>
  isAgentName(s) ? undefined : `must be an agent name (lower-case, [a-z0-9_-]), got "${s}"`;
const timeCheck = (s: string) =>
  isIsoTime(s) ? undefined : `must be an ISO 8601 time with a zone, got "${s}"`;

/** Narrows a parsed JSON value to an envelope, or says precisely why it is not one. */
export function validateEnvelope(value: unknown): EnvelopeParse {
  if (!isRecord(value)) {
    return {
      ok: false,
      reason: `envelope must be a JSON object, got ${describe(value)}`,
      json: value,
    };
  }
  try {
    const r = new Reader(value, "");
    const version = r.number("schema_version", 1, true);
    if (version > ENVELOPE_SCHEMA_VERSION) {
      throw new EnvelopeShapeError(
        `"schema_version" ${version} is newer than this reader's ${ENVELOPE_SCHEMA_VERSION}`,
      );
    }
    const type = r.oneOf("type", MESSAGE_TYPES);
    const envelope: Envelope = {
      schema_version: version,
      message_id: r.string("message_id"),
      type,
      source: r.string("source", agentCheck),
      target: r.string("target", agentCheck),
      conversation_id: r.string("conversation_id"),
      task_id: r.string("task_id"),
      attempt: r.number("attempt", 1, true),
      created_at: r.string("created_at", timeCheck),
      payload: r.record("payload") ?? {},
    };
    if (!isRecord(value["payload"])) {
      throw new EnvelopeShapeError(
        `"payload" must be an object, got ${describe(value["payload"])}`,
      );
    }
    const inReplyTo = r.optionalString("in_reply_to");
    if (inReplyTo !== undefined) envelope.in_reply_to = inReplyTo;
    else if (type === "RESULT" || type === "ERROR") {
      throw new EnvelopeShapeError(`"in_reply_to" is required on ${type}`);
    }
    const deadline = r.optionalString("deadline", timeCheck);
    if (deadline !== undefined) envelope.deadline = deadline;
    const error = r.record("error");
    if (error !== undefined) {
      const e = new Reader(error, "error.");
      envelope.error = {
        kind: e.oneOf("kind", ERROR_KINDS),
        message: e.string("message"),
        retryable: e.boolean("retryable"),
      };
    } else if (type === "ERROR") {
      throw new EnvelopeShapeError(`"error" is required on ERROR`);
    }
    const usage = r.record("usage");
    if (usage !== undefined) {
      const u = new Reader(usage, "usage.");
      envelope.usage = {
        model: u.string("model"),
        input_tokens: u.number("input_tokens", 0, true),
        output_tokens: u.number("output_tokens", 0, true),
        cost_usd: u.number("cost_usd", 0, false),
        latency_ms: u.number("latency_ms", 0, false),
      };
    }
    return { ok: true, envelope };
  } catch (err) {
    if (err instanceof EnvelopeShapeError) return { ok: false, reason: err.message, json: value };
    throw err;
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * A record value as text, or why it cannot be a message at all (none, empty, too big, not UTF-8):
 * the first check of every reader of record values
 */
export function recordText(
  bytes: Uint8Array | string | null | undefined,
): { ok: true; text: string } | { ok: false; reason: string } {
  if (bytes === null || bytes === undefined) {
    return { ok: false, reason: "record has no value (tombstone)" };
  }
  const size = typeof bytes === "string" ? bytes.length : bytes.byteLength;
  if (size === 0) return { ok: false, reason: "record value is empty" };
  if (size > MAX_ENVELOPE_BYTES) {
    return {
      ok: false,
      reason: `record value is ${size} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit`,
    };
  }
  try {
    return { ok: true, text: typeof bytes === "string" ? bytes : decoder.decode(bytes) };
  } catch {
    return { ok: false, reason: "record value is not valid UTF-8" };
  }
}

/** Turns a Kafka record value (any bytes, or none) into an envelope or a reason why not. */
export function parseEnvelope(bytes: Uint8Array | string | null | undefined): EnvelopeParse {
  const read = recordText(bytes);
  if (!read.ok) return read;
  const text = read.text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof SyntaxError ? err.message : String(err);
    return { ok: false, reason: `record value is not JSON: ${detail}` };
  }
  return validateEnvelope(json);
}

/** The fields a caller chooses; the rest are filled in. */
export interface NewEnvelope {
  type: MessageType;
  source: string;
  target: string;
  conversation_id: string;
  task_id: string;
  payload?: Record<string, unknown>;
  in_reply_to?: string;
  attempt?: number;
  deadline?: Date;
  error?: EnvelopeError;
  usage?: LlmUsage;
  /** A message id chosen by the sender (the same message sent again); fresh by default */
  message_id?: string;
}

/** Builds a version-1 envelope with a fresh id (unless given) and the current time. */
export function createEnvelope(fields: NewEnvelope, now: Date = new Date()): Envelope {
  const envelope: Envelope = {
    schema_version: ENVELOPE_SCHEMA_VERSION,
    message_id: fields.message_id ?? crypto.randomUUID(),
    type: fields.type,
    source: fields.source,
    target: fields.target,
    conversation_id: fields.conversation_id,
    task_id: fields.task_id,
    attempt: fields.attempt ?? 1,
    created_at: now.toISOString(),
    payload: fields.payload ?? {},
  };
  if (fields.in_reply_to !== undefined) envelope.in_reply_to = fields.in_reply_to;
  if (fields.deadline !== undefined) envelope.deadline = fields.deadline.toISOString();
  if (fields.error !== undefined) envelope.error = fields.error;
  if (fields.usage !== undefined) envelope.usage = fields.usage;
  return envelope;
}

/** A reply (`RESULT`, `ERROR`, `CANCEL`) to a task, addressed back to its sender. */
export function replyTo(
  task: Envelope,
  type: "RESULT" | "ERROR" | "CANCEL",
  fields: Pick<NewEnvelope, "payload" | "error" | "usage">,
): Envelope {
  return createEnvelope({
    ...fields,
    type,
    source: task.target,
    target: task.source,
    conversation_id: task.conversation_id,
    task_id: task.task_id,
    in_reply_to: task.message_id,
    attempt: task.attempt,
  });
}

/** Serialises an envelope to a record value. */
export function encodeEnvelope(envelope: Envelope): string {
  return JSON.stringify(envelope);
}
