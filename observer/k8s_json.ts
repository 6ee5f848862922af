/**
 * Reading the fields of a Kubernetes object that arrived as `unknown`: the helpers every validator
 * of the Kubernetes source shares, and the result they return.
 */

import { isRecord } from "@mat/agents/support";

/** What a validator returns: the narrowed value, or an error that quotes what did not fit */
export type Narrowed<T> = { ok: true; value: T } | { ok: false; error: string };

export type Json = Record<string, unknown>;

/** `value` as JSON for an error message, cut to 80 characters */
export function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The string at `key`, or undefined when it is not a string or is empty */
export function str(record: Json, key: string): string | undefined {
  const value = record[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The finite number at `key`, or undefined */
export function num(record: Json, key: string): number | undefined {
  const value = record[key];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The object at `key`, or undefined */
export function rec(record: Json, key: string): Json | undefined {
  const value = record[key];
  return isRecord(value) ? value : undefined;
}

/** Copies the string fields `keys` of `from` that are set into `into` */
export function copyStrings<K extends string>(
  into: Partial<Record<K, string>>,
  from: Json,
  keys: readonly K[],
): void {
  for (const key of keys) {
    const value = str(from, key);
    if (value !== undefined) into[key] = value;
  }
}
