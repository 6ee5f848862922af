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
 * This file holds the format and its validator; mapping_read.ts reads records with a mapping.
 */

import { isRecord } from "../is_record.ts";
import { ERROR_KINDS, type ErrorKind } from "./envelope.ts";
import { MESSAGE_KINDS, type MessageKind, WAITING_ON, type WaitingOn } from "./normalized.ts";

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

/** A value as a mapping error quotes it, cut to 60 characters */
export function show(v: unknown): string {
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
