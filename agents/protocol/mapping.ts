/**
 * A declared mapping: how a team's own JSON says what our envelope says, in a small file the team
 * writes (OBSERVER_MAPPINGS). It is validated once, at start, with the file and the key quoted;
 * then it reads the records it matches.
 *
 * ```json
 * {
 *   "mapping_version": 1,
 *   "name": "ops-jobs",
 *   "match": { "/v": 2 },
 *   "kind": { "from": "/event", "values": { "job.requested": "task", "job.completed": "reply_ok",
 *             "job.failed": "reply_failed", "job.progress": "progress" } },
 *   "message_id": "/id",
 *   "sender": "header:x-sender",
 *   "conversation_id": "/session",
 *   "task_id": "/job",
 *   "in_reply_to": "/reply_to",
 *   "created_at": "/at",
 *   "error": { "kind": { "from": "/failure/code", "values": { "RATE_LIMITED": "llm_rate_limit" },
 *              "default": "handler_error" }, "message": "/failure/detail" },
 *   "waiting_on": { "from": "/status", "values": { "needs_human": "input" } }
 * }
 * ```
 * A field is a JSON pointer into the value (RFC 6901: `/a/b`, `~1` for `/`, `~0` for `~`),
 * `header:<name>` (a record header) or `key` (the record key); `{ "from", "values", "default" }`
 * maps what it finds. `match` (pointer -> value) says which records the mapping is for; without
 * it, every record whose `kind` maps. Required: `name`, `kind`, `message_id`; `task_id` defaults
 * to the message id, `conversation_id` to the task id. Times are ISO 8601 or epoch milliseconds.
 */

import { isRecord } from "../is_record.ts";
import { ERROR_KINDS, type ErrorKind } from "./envelope.ts";
import { failureOf } from "./failure_text.ts";
import {
  type DialectRead,
  MESSAGE_KINDS,
  type MessageKind,
  type NormalizedMessage,
  WAITING_ON,
  type WaitingOn,
} from "./normalized.ts";

export const MAPPING_VERSION = 1;

/** Where a field's value is: a JSON pointer's tokens, a header, or the key */
export type Source =
  | { at: "value"; pointer: string; tokens: string[] }
  | { at: "header"; name: string }
  | { at: "key" };

export interface Mapped<T extends string> {
  from: Source;
  values: Record<string, T>;
  default?: T;
}

export interface Mapping {
  name: string;
  match: { tokens: string[]; pointer: string; value: unknown }[];
  kind: Mapped<MessageKind>;
  message_id: Source;
  sender?: Source;
  receiver?: Source;
  conversation_id?: Source;
  task_id?: Source;
  in_reply_to?: Source;
  created_at?: Source;
  deadline?: Source;
  attempt?: Source;
  error?: { kind?: Mapped<ErrorKind>; message?: Source; retryable?: Source };
  usage?: {
    model?: Source;
    input_tokens?: Source;
    output_tokens?: Source;
    cost_usd?: Source;
    latency_ms?: Source;
  };
  waiting_on?: Mapped<WaitingOn>;
}

/** A mapping file that cannot be used, with where it is wrong */
export class MappingError extends Error {
  override name = "MappingError";
  constructor(message: string, readonly file: string, readonly key: string) {
    super(`${file}: ${message}`);
  }
}

/** The tokens of a JSON pointer, or undefined when it is not one */
function pointerTokens(pointer: string): string[] | undefined {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) return undefined;
  return pointer.slice(1).split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** The value a pointer's tokens reach in `doc`, undefined when there is none */
export function resolvePointer(doc: unknown, tokens: readonly string[]): unknown {
  let at: unknown = doc;
  for (const t of tokens) {
    if (Array.isArray(at)) {
      if (!/^(0|[1-9]\d*)$/.test(t)) return undefined;
      at = at[Number(t)];
    } else if (isRecord(at) && Object.hasOwn(at, t)) {
      at = at[t];
    } else {
      return undefined;
    }
  }
  return at;
}

class Validator {
  constructor(readonly file: string) {}

  fail(key: string, message: string): never {
    throw new MappingError(`"${key}" ${message}`, this.file, key);
  }

  source(key: string, raw: unknown): Source {
    if (typeof raw !== "string") {
      this.fail(key, `must be a JSON pointer ("/a/b"), "header:<name>" or "key", got ${show(raw)}`);
    }
    if (raw === "key") return { at: "key" };
    if (raw.startsWith("header:")) {
      const name = raw.slice(7);
      if (name === "") this.fail(key, `names no header: "header:" needs a name after it`);
      return { at: "header", name: name.toLowerCase() };
    }
    const tokens = pointerTokens(raw);
    if (tokens === undefined) {
      this.fail(
        key,
        `must be a JSON pointer starting with "/", "header:<name>" or "key", got "${raw}"`,
      );
    }
    return { at: "value", pointer: raw, tokens };
  }

  optionalSource(key: string, raw: unknown): Source | undefined {
    return raw === undefined ? undefined : this.source(key, raw);
  }

  mapped<T extends string>(key: string, raw: unknown, allowed: readonly T[]): Mapped<T> {
    if (!isRecord(raw)) {
      this.fail(key, `must be an object { "from", "values", "default" }, got ${show(raw)}`);
    }
    const unknownKey = Object.keys(raw).find((k) => !["from", "values", "default"].includes(k));
    if (unknownKey !== undefined) {
      this.fail(`${key}.${unknownKey}`, `is not a key of a mapped field (from, values, default)`);
    }
    const values = raw["values"];
    if (!isRecord(values) || Object.keys(values).length === 0) {
      this.fail(`${key}.values`, `must be an object of found value -> ${allowed.join(" | ")}`);
    }
    const out: Record<string, T> = {};
    for (const [found, to] of Object.entries(values)) {
      out[found] = this.oneOf(`${key}.values.${found}`, to, allowed);
    }
    const mapped: Mapped<T> = { from: this.source(`${key}.from`, raw["from"]), values: out };
    if (raw["default"] !== undefined) {
      mapped.default = this.oneOf(`${key}.default`, raw["default"], allowed);
    }
    return mapped;
  }

  oneOf<T extends string>(key: string, raw: unknown, allowed: readonly T[]): T {
    const found = allowed.find((a) => a === raw);
    if (found === undefined) {
      this.fail(key, `must be one of ${allowed.join(", ")}, got ${show(raw)}`);
    }
    return found;
  }

  group<K extends string>(
    key: string,
    raw: unknown,
    keys: readonly K[],
  ): Partial<Record<K, unknown>> {
    if (raw === undefined) return {};
    if (!isRecord(raw)) this.fail(key, `must be an object, got ${show(raw)}`);
    const unknownKey = Object.keys(raw).find((k) => !(keys as readonly string[]).includes(k));
    if (unknownKey !== undefined) {
      this.fail(`${key}.${unknownKey}`, `is not a key of "${key}" (${keys.join(", ")})`);
    }
    return raw as Partial<Record<K, unknown>>;
  }
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

const TOP_KEYS = [
  "mapping_version",
  "name",
  "match",
  "kind",
  "message_id",
  "sender",
  "receiver",
  "conversation_id",
  "task_id",
  "in_reply_to",
  "created_at",
  "deadline",
  "attempt",
  "error",
  "usage",
  "waiting_on",
] as const;

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** Validates a mapping file's JSON, or throws a MappingError quoting the key that is wrong */
export function parseMapping(json: unknown, file: string): Mapping {
  const v: Validator = new Validator(file);
  if (!isRecord(json)) {
    throw new MappingError(`a mapping must be a JSON object, got ${show(json)}`, file, "");
  }
  const unknownKey = Object.keys(json).find((k) => !(TOP_KEYS as readonly string[]).includes(k));
  if (unknownKey !== undefined) {
    v.fail(unknownKey, `is not a key of a mapping (${TOP_KEYS.join(", ")})`);
  }
  if (json["mapping_version"] !== MAPPING_VERSION) {
    v.fail("mapping_version", `must be ${MAPPING_VERSION}, got ${show(json["mapping_version"])}`);
  }
  const name = json["name"];
  if (typeof name !== "string" || !NAME.test(name)) {
    v.fail("name", `must be a lower-case name ([a-z0-9_.-], up to 63), got ${show(name)}`);
  }
  const match: Mapping["match"] = [];
  if (json["match"] !== undefined) {
    if (!isRecord(json["match"])) v.fail("match", `must be an object of JSON pointer -> value`);
    for (const [pointer, value] of Object.entries(json["match"])) {
      const tokens = pointerTokens(pointer);
      if (tokens === undefined) v.fail(`match.${pointer}`, `is not a JSON pointer ("/a/b")`);
      match.push({ pointer, tokens, value });
    }
  }
  const mapping: Mapping = {
    name,
    match,
    kind: v.mapped("kind", json["kind"], MESSAGE_KINDS),
    message_id: v.source("message_id", json["message_id"]),
  };
  for (
    const key of [
      "sender",
      "receiver",
      "conversation_id",
      "task_id",
      "in_reply_to",
      "created_at",
      "deadline",
      "attempt",
    ] as const
  ) {
    const source = v.optionalSource(key, json[key]);
    if (source !== undefined) mapping[key] = source;
  }
  const error = v.group("error", json["error"], ["kind", "message", "retryable"] as const);
  if (json["error"] !== undefined) {
    mapping.error = {};
    if (error.kind !== undefined) {
      mapping.error.kind = v.mapped("error.kind", error.kind, ERROR_KINDS);
    }
    const message = v.optionalSource("error.message", error.message);
    if (message !== undefined) mapping.error.message = message;
    const retryable = v.optionalSource("error.retryable", error.retryable);
    if (retryable !== undefined) mapping.error.retryable = retryable;
  }
  const usageKeys = ["model", "input_tokens", "output_tokens", "cost_usd", "latency_ms"] as const;
  const usage = v.group("usage", json["usage"], usageKeys);
  if (json["usage"] !== undefined) {
    mapping.usage = {};
    for (const key of usageKeys) {
      const source = v.optionalSource(`usage.${key}`, usage[key]);
      if (source !== undefined) mapping.usage[key] = source;
    }
  }
  if (json["waiting_on"] !== undefined) {
    mapping.waiting_on = v.mapped("waiting_on", json["waiting_on"], WAITING_ON);
  }
  return mapping;
}

/** What a mapping reads from: the parsed value, the headers, the key */
export interface MappedRecord {
  value: unknown;
  headers: Readonly<Record<string, string>>;
  key: string | null;
}

function find(r: MappedRecord, s: Source): unknown {
  switch (s.at) {
    case "value":
      return resolvePointer(r.value, s.tokens);
    case "header":
      return r.headers[s.name];
    case "key":
      return r.key ?? undefined;
  }
}

function where(s: Source): string {
  return s.at === "value" ? s.pointer : s.at === "header" ? `header:${s.name}` : "key";
}

/** A scalar as text ("" for nothing) */
function text(v: unknown): string {
  return typeof v === "string" ? v : typeof v === "number" && Number.isFinite(v) ? String(v) : "";
}

function mapValue<T extends string>(r: MappedRecord, m: Mapped<T>): T | undefined {
  const found = text(find(r, m.from));
  return Object.hasOwn(m.values, found) ? m.values[found] : m.default;
}

/** An ISO 8601 time or epoch milliseconds, as ISO 8601 UTC */
function timeOf(v: unknown): string | undefined {
  if (typeof v === "number" && Number.isFinite(v) && v > 0) return new Date(v).toISOString();
  if (typeof v === "string" && v !== "" && !Number.isNaN(Date.parse(v))) {
    return new Date(v).toISOString();
  }
  return undefined;
}

function numberOf(v: unknown): number | undefined {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Whether a mapping is for this record: every `match` holds, and its kind maps */
function matches(m: Mapping, r: MappedRecord): string | undefined {
  for (const { tokens, pointer, value } of m.match) {
    const found = resolvePointer(r.value, tokens);
    if (found !== value) return `${pointer} is ${show(found)}, not ${show(value)}`;
  }
  return undefined;
}

/** Reads a record with a mapping, or says why the mapping does not read it */
export function readMapped(m: Mapping, r: MappedRecord): DialectRead {
  const fail = (reason: string): DialectRead => ({
    ok: false,
    reason: `mapping "${m.name}": ${reason}`,
  });
  const mismatch = matches(m, r);
  if (mismatch !== undefined) return fail(mismatch);
  const kind = mapValue(r, m.kind);
  if (kind === undefined) {
    return fail(
      `${where(m.kind.from)} is ${show(find(r, m.kind.from))}, which "kind" does not map`,
    );
  }
  const messageId = text(find(r, m.message_id));
  if (messageId === "") return fail(`${where(m.message_id)} (message_id) is empty or missing`);
  const taskId = (m.task_id && text(find(r, m.task_id))) || messageId;
  const message: NormalizedMessage = {
    dialect: `mapping:${m.name}`,
    kind,
    message_id: messageId,
    conversation_id: (m.conversation_id && text(find(r, m.conversation_id))) || taskId,
    task_id: taskId,
    attempt: 1,
    payload: r.value,
  };
  const optional = (s: Source | undefined) => (s === undefined ? "" : text(find(r, s)));
  const sender = optional(m.sender);
  if (sender !== "") message.sender = sender;
  const receiver = optional(m.receiver);
  if (receiver !== "") message.receiver = receiver;
  const inReplyTo = optional(m.in_reply_to);
  if (inReplyTo !== "" && kind !== "task") message.in_reply_to = inReplyTo;
  const created = m.created_at && timeOf(find(r, m.created_at));
  if (created) message.created_at = created;
  const deadline = m.deadline && timeOf(find(r, m.deadline));
  if (deadline) message.deadline = deadline;
  const attempt = m.attempt && numberOf(find(r, m.attempt));
  if (attempt && Number.isInteger(attempt) && attempt >= 1) message.attempt = attempt;
  if (kind === "reply_failed") {
    const said = optional(m.error?.message);
    const declared = m.error?.kind && mapValue(r, m.error.kind);
    const classified = failureOf(said);
    message.error = declared ? { ...classified, kind: declared } : classified;
    const retry = m.error?.retryable && find(r, m.error.retryable);
    if (typeof retry === "boolean") message.error.retryable = retry;
  }
  if (m.usage !== undefined) {
    const u = m.usage;
    const model = optional(u.model);
    const input = u.input_tokens && numberOf(find(r, u.input_tokens));
    const output = u.output_tokens && numberOf(find(r, u.output_tokens));
    if (model !== "" && input !== undefined && output !== undefined) {
      message.usage = {
        model,
        input_tokens: Math.round(input || 0),
        output_tokens: Math.round(output || 0),
        cost_usd: (u.cost_usd && numberOf(find(r, u.cost_usd))) || 0,
        latency_ms: (u.latency_ms && numberOf(find(r, u.latency_ms))) || 0,
      };
    }
  }
  if (m.waiting_on !== undefined) {
    const waiting = mapValue(r, m.waiting_on);
    if (waiting !== undefined) message.waiting_on = waiting;
  }
  return { ok: true, message };
}
