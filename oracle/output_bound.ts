/**
 * The bound on every answer: each list of a document, at any depth, holds at most `--limit` rows,
 * and one cut says how many it left out in a number beside it (`<list>_omitted`, added to the
 * count a record already carried there, as `tasks_in_flight_omitted`). With no `--limit` given the
 * document also stays under OUTPUT_MAX_CHARS in JSON: the largest limit up to the command's
 * default that fits is used, and the document says which (`limit`).
 */

import type { Document } from "./output_document.ts";
import { isRecord } from "@mat/agents/support";

/** `--format json` answers stay under this many characters when `--limit` is not given */
export const OUTPUT_MAX_CHARS = 8_000;

/** A command's answer, read once: its document with its own lists cut at `limit` rows */
export type Answer = (limit: number) => Document;

/** A copy of `value` with every list in it cut to `limit` items, each cut counted beside it */
export function boundLists<T>(value: T, limit: number): T;
export function boundLists(value: unknown, limit: number): unknown {
  if (Array.isArray(value)) return value.slice(0, limit).map((v) => boundLists(v, limit));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = boundLists(v, limit);
  for (const [key, v] of Object.entries(value)) {
    if (!Array.isArray(v) || v.length <= limit) continue;
    const count = `${key}_omitted`;
    const before = out[count];
    out[count] = (typeof before === "number" ? before : 0) + v.length - limit;
  }
  return out;
}

/** Characters of a document as `--format json` prints it */
export function jsonLength(doc: Document): number {
  return JSON.stringify(doc).length;
}

/**
 * The document of an answer: at `limit` when it was asked for (`fit` false), else at the largest
 * limit up to it whose JSON stays under `max` characters (at least 1)
 */
export function boundedDocument(
  answer: Answer,
  limit: number,
  fit: boolean,
  max: number = OUTPUT_MAX_CHARS,
): Document {
  const at = (n: number): Document => ({ ...answer(n), limit: n });
  const full = at(limit);
  if (!fit || jsonLength(full) <= max) return full;
  // The length grows with the limit: the largest one that fits, by bisection
  let lo = 1;
  let hi = limit - 1;
  let best = at(1);
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    const doc = at(mid);
    if (jsonLength(doc) <= max) {
      best = doc;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}
