/**
 * Reading one record with a declared mapping (mapping.ts has the format): each field found where
 * the mapping points, mapped values looked up, times and numbers narrowed; a record the mapping
 * is not for says why (a `match` that fails, a kind it does not map, no message id).
 */

import { failureOf } from "./failure_text.ts";
import { type Mapped, type Mapping, resolvePointer, show, type Source } from "./mapping.ts";
import type { DialectRead, NormalizedMessage } from "./normalized.ts";

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
