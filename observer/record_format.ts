/**
 * The time-machine record format, owned by the observer and read by anyone replaying history.
 *
 * Two append-only JSONL histories live in `TELEMETRY_DATA_DIR`:
 * - `diff_time_machine.jsonl` (+ numbered segments): one event per line, as it happens;
 * - `state_time_machine.jsonl` (+ numbered segments): one full `snapshot` per line.
 *
 * Every line is one JSON object starting with the common header
 * `{"schema_version":1,"seq":N,"ts":"ISO","type":"..."}`. `seq` grows by one per line of the
 * same history (the two histories count separately); `ts` is when the observer wrote it.
 *
 * The diff record types (snake_case), each with its fields and when it is written, are the table
 * `DIFF_RECORDS` in `diff_records.ts`; the snapshot is in `snapshot_record.ts`, the fields both
 * share in `record_fields.ts`. This module re-exports them and holds the validators.
 *
 * A `TASK` costs one line: its `message` record carries `handoff: "started"` (attempt 1: the
 * message itself opens the handoff) and `unconsumed: true` when its queue had no reader. An
 * `error` record folds `occurrences` occurrences (1 unless several of one fingerprint came within
 * one sync interval: they are coalesced into one line; `count` is the fold's running total).
 *
 * Only `message` and `message_malformed` carry Kafka coordinates that move the observer's position.
 */

import {
  DIFF_RECORD_TYPES,
  type DiffRecord,
  diffRecordShape,
  type DiffRecordType,
} from "./diff_records.ts";
import { type Position, position } from "./record_fields.ts";
import { type Check, NO_PATH, object, RecordShapeError } from "./record_shape.ts";
import { isRecord } from "@mat/agents/support";
import { type SnapshotRecord, snapshotShape } from "./snapshot_record.ts";

export * from "./diff_records.ts";
export * from "./record_fields.ts";
export * from "./severity.ts";
export * from "./snapshot_record.ts";

/** Version of the record format written by this code */
export const RECORD_SCHEMA_VERSION = 1;

export const DIFF_FILE_BASE = "diff_time_machine";
export const STATE_FILE_BASE = "state_time_machine";

/** A record before the writer gives it its header: what callers append */
export type Body<R> = R extends unknown ? Omit<R, "schema_version" | "seq" | "ts"> : never;
export type DiffBody = Body<DiffRecord>;
export type SnapshotBody = Body<SnapshotRecord>;

/** The outcome of validating one line */
export type RecordParse<R> = { ok: true; record: R } | { ok: false; reason: string };

function validator<R>(check: Check<R>): (value: unknown) => RecordParse<R> {
  return (value) => {
    try {
      let record: R;
      try {
        record = check(value, NO_PATH);
      } catch (err) {
        if (!(err instanceof RecordShapeError)) throw err;
        record = check(value, ""); // again, to say where
      }
      if (isRecord(value) && value["schema_version"] !== RECORD_SCHEMA_VERSION) {
        const v = value["schema_version"];
        return {
          ok: false,
          reason: `"schema_version" must be ${RECORD_SCHEMA_VERSION}, got ${String(v)}`,
        };
      }
      return { ok: true, record };
    } catch (err) {
      if (err instanceof RecordShapeError) return { ok: false, reason: err.message };
      throw err;
    }
  };
}

export const validateSnapshot: (value: unknown) => RecordParse<SnapshotRecord> = validator(
  object(snapshotShape),
);
export const validatePosition: (value: unknown) => RecordParse<Position> = validator(position);

type DiffValidator = (value: unknown) => RecordParse<DiffRecord>;

/**
 * The validator of each diff record type, derived from the table. (The check of one type's shape
 * returns a record of that type, one of the union: the compiler cannot follow that over the union
 * of types, hence the one assertion.)
 */
const diffValidators = new Map<string, DiffValidator>(
  DIFF_RECORD_TYPES.map((
    type,
  ) => [type, validator(object(diffRecordShape(type))) as DiffValidator]),
);

/** Narrows one parsed line of the diff history to a typed record, or says why not */
export function validateDiffRecord(value: unknown): RecordParse<DiffRecord> {
  const type = isRecord(value) ? value["type"] : undefined;
  const validate = typeof type === "string" ? diffValidators.get(type) : undefined;
  if (validate === undefined) {
    return { ok: false, reason: `"type" must be a diff record type, got ${JSON.stringify(type)}` };
  }
  return validate(value);
}

/** Whether a string names a diff record type */
export function isDiffRecordType(value: string): value is DiffRecordType {
  return diffValidators.has(value);
}

/** The Kafka position a record moves, if it is one that carries coordinates */
export function positionOf(record: DiffRecord | DiffBody): Position | undefined {
  if (record.type === "message" || record.type === "message_malformed") {
    return { topic: record.topic, partition: record.partition, offset: record.offset };
  }
  return undefined;
}
