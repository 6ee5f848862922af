/**
 * A tiny schema language for the time-machine records: each record type is written once as a
 * shape, its TypeScript type is inferred from the shape, and its validator is derived from it, so
 * the type and the check can never drift apart.
 */

import { isRecord } from "@mat/agents/support";

/** Why an `unknown` value is not a record of the expected shape */
export class RecordShapeError extends Error {
  override name = "RecordShapeError";
  constructor(message: string, readonly path: string) {
    super(message);
  }
}

/** Checks one value and returns it narrowed; throws RecordShapeError naming the path */
export type Check<T> = (value: unknown, path: string) => T;

/** Marks a field that may be absent (never `undefined` when present) */
export interface Optional<T> {
  readonly optional: true;
  readonly check: Check<T>;
}

export type Field = Check<unknown> | Optional<unknown>;
export type Shape = Record<string, Field>;

type RequiredKeys<S extends Shape> = {
  [K in keyof S]: S[K] extends Optional<unknown> ? never : K;
}[keyof S];
type OptionalKeys<S extends Shape> = {
  [K in keyof S]: S[K] extends Optional<unknown> ? K : never;
}[keyof S];

type Flatten<T> = { [K in keyof T]: T[K] };

/** The type a shape describes */
export type Infer<S extends Shape> = Flatten<
  & { [K in RequiredKeys<S>]: S[K] extends Check<infer T> ? T : never }
  & { [K in OptionalKeys<S>]?: S[K] extends Optional<infer T> ? T : never }
>;

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    return `"${value.length > 40 ? `${value.slice(0, 40)}...` : value}"`;
  }
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

/**
 * The path checks get when no path is built: validators check with it first, and only when a
 * check fails check again with real paths, to say where
 */
export const NO_PATH = "\u0000";

function fail(path: string, expected: string, value: unknown): never {
  throw new RecordShapeError(`"${path}" must be ${expected}, got ${describeValue(value)}`, path);
}

export const str: Check<string> = (v: unknown, p: string): string =>
  typeof v === "string" ? v : fail(p, "a string", v);
export const int: Check<number> = (v: unknown, p: string): number =>
  typeof v === "number" && Number.isSafeInteger(v) ? v : fail(p, "an integer", v);
export const nat: Check<number> = (v: unknown, p: string): number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : fail(p, "an integer >= 0", v);
export const num: Check<number> = (v: unknown, p: string): number =>
  typeof v === "number" && Number.isFinite(v) ? v : fail(p, "a finite number", v);
export const bool: Check<boolean> = (v: unknown, p: string): boolean =>
  typeof v === "boolean" ? v : fail(p, "a boolean", v);
export const json: Check<unknown> = (v: unknown): unknown => v;
/** `2026-11-24T10:00:00.123Z` or with an offset, as the agents' envelopes require */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
export const isoTime: Check<string> = (v: unknown, p: string): string =>
  typeof v === "string" && ISO_TIME.test(v) && !Number.isNaN(Date.parse(v))
    ? v
    : fail(p, "an ISO 8601 time", v);
/** A Kafka offset: the digits of an integer from 0 to 2^63 - 1, no leading zero */
export const kafkaOffset: Check<string> = (v: unknown, p: string): string =>
  typeof v === "string" && /^(0|[1-9]\d{0,18})$/.test(v) &&
    (v.length < 19 || v <= "9223372036854775807")
    ? v
    : fail(p, "a Kafka offset (a decimal integer string)", v);

export function literal<const T extends string>(...allowed: T[]): Check<T> {
  return (v, p) => {
    for (const a of allowed) if (a === v) return a;
    return fail(p, `one of ${allowed.join(", ")}`, v);
  };
}

export function optional<T>(check: Check<T>): Optional<T> {
  return { optional: true, check };
}

export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, p) => v === null ? null : check(v, p);
}

export function array<T>(check: Check<T>): Check<T[]> {
  return (v, p) =>
    Array.isArray(v)
      ? v.map((item, i) => check(item, p === NO_PATH ? p : `${p}[${i}]`))
      : fail(p, "an array", v);
}

export function dict<T>(check: Check<T>): Check<Record<string, T>> {
  return (v, p) => {
    if (!isRecord(v)) return fail(p, "an object", v);
    const out: Record<string, T> = {};
    for (const k of Object.keys(v)) {
      const item = check(v[k], p === NO_PATH ? p : `${p}.${k}`);
      // "__proto__" is data like any other: defined, not assigned (which would set the
      // prototype). Any other key is assigned: the same own property, made much faster.
      if (k === "__proto__") {
        Object.defineProperty(out, k, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[k] = item;
    }
    return out;
  };
}

function isOptional(field: Field): field is Optional<unknown> {
  return typeof field === "object";
}

/** A check for an object of the given shape; unknown extra fields are dropped */
export function object<S extends Shape>(shape: S): Check<Infer<S>> {
  const fields = Object.entries(shape).map(([key, field]) =>
    isOptional(field)
      ? { key, check: field.check, optional: true }
      : { key, check: field, optional: false }
  );
  return (v, p) => {
    if (!isRecord(v)) return fail(p || "record", "an object", v);
    const out: Record<string, unknown> = {};
    for (const { key, check, optional } of fields) {
      const at = p === NO_PATH ? p : p === "" ? key : `${p}.${key}`;
      const value = v[key];
      if (!optional) out[key] = check(value, at);
      else if (value !== undefined && value !== null) out[key] = check(value, at);
    }
    // The loop above checked every field of the shape, which is what Infer<S> describes.
    return out as Infer<S>;
  };
}
