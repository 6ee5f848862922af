/**
 * Builders of time-machine files for the oracle's tests: records in the observer's own format
 * (typed by its record types, at times given as seconds after T0), written to real files in a
 * temporary data directory. Snapshots hold the state the observer's own `ObserverState` folds from
 * the records before them.
 */

import {
  DEFAULT_FOLD_OPTIONS,
  DIFF_FILE_BASE,
  type DiffRecord,
  type ErrorRecord,
  type FoldOptions,
  type HandoffFailedRecord,
  type HandoffStartedRecord,
  type MessageRecord,
  type ObserverStartedRecord,
  type ObserverStateData,
  type QueueSampleRecord,
  recordFoldOptions,
  type SnapshotRecord,
  STATE_FILE_BASE,
} from "@mat/observer";
import { activePath, closedPath } from "@mat/observer/segments";
import { ObserverState } from "@mat/observer/state";

export const T0 = Date.parse("2026-11-24T10:00:00.000Z");
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

const header = (seq: number, s: number) => ({ schema_version: 1, seq, ts: at(s) });

export function message(seq: number, s: number, extra: Partial<MessageRecord> = {}): MessageRecord {
  return {
    ...header(seq, s),
    type: "message",
    topic: "agent-queue-researcher",
    partition: 0,
    offset: String(seq),
    observed_at: at(s),
    kafka_timestamp: at(s),
    key: null,
    agent: "researcher",
    message_id: `msg-${seq}`,
    msg_type: "HEARTBEAT",
    source: "orchestrator",
    target: "researcher",
    conversation_id: `conv-${seq}`,
    task_id: `conv-${seq}.1-researcher`,
    attempt: 1,
    created_at: at(s),
    payload_bytes: 2,
    payload_preview: "{}",
    payload_truncated: false,
    redactions: 0,
    ...extra,
  };
}

/** An `observer_started` line; with `options`, recording them as the observer now does */
export function observerStarted(
  seq: number,
  s: number,
  options?: FoldOptions,
): ObserverStartedRecord {
  return {
    ...header(seq, s),
    type: "observer_started",
    pid: 4242,
    resumed_partitions: 0,
    torn_bytes_cut: 0,
    positions: [],
    ...(options === undefined ? {} : { fold_options: recordFoldOptions(options) }),
  };
}

export function errorRecord(
  seq: number,
  s: number,
  agent: string,
  extra: Partial<ErrorRecord> = {},
): ErrorRecord {
  return {
    ...header(seq, s),
    type: "error",
    fingerprint: `fp-${agent}`,
    severity: "error",
    category: "agent",
    kind: "tool_failed",
    message: "the tool failed",
    agent,
    task_id: null,
    conversation_id: null,
    first_seen: at(s),
    last_seen: at(s),
    count: 1,
    evidence: { offsets: [], seqs: [seq] },
    ...extra,
  };
}

export function queueSample(
  seq: number,
  s: number,
  agent: string,
  high = "10",
): QueueSampleRecord {
  return {
    ...header(seq, s),
    type: "queue_sample",
    agent,
    topic: `agent-queue-${agent}`,
    group: `agent-${agent}`,
    group_state: "Stable",
    members: [{ member_id: "m0", client_id: `agent-${agent}`, host: "/127.0.0.1" }],
    partitions: [{ partition: 0, high, committed: "10", lag: 0 }],
    lag: 0,
    status: "OK",
    status_reason: "lag is zero",
  };
}

const HANDOFF = {
  task_message_id: "task-msg-1",
  task_id: "conv-trace.1-coder",
  conversation_id: "conv-trace",
  from: "orchestrator",
  to: "coder",
  attempt: 1,
};

export function handoffStarted(seq: number, s: number): HandoffStartedRecord {
  return {
    ...header(seq, s),
    type: "handoff_started",
    ...HANDOFF,
    created_at: at(s),
    message_seq: seq,
  };
}

export function handoffFailed(seq: number, s: number, errorMessage: string): HandoffFailedRecord {
  return {
    ...header(seq, s),
    type: "handoff_failed",
    ...HANDOFF,
    reply_message_id: "reply-1",
    latency_ms: 120,
    error_kind: "tool_failed",
    error_message: errorMessage,
    retryable: false,
    message_seq: seq,
  };
}

/** The state the observer folds from these records, as a snapshot holds it */
export function stateAfter(
  records: DiffRecord[],
  options: FoldOptions = DEFAULT_FOLD_OPTIONS,
): ObserverStateData {
  const state = new ObserverState(options);
  for (const r of records) state.apply(r);
  return state.toData();
}

/**
 * A snapshot recording the options its state was folded with (the observer's defaults unless
 * given), as the observer writes them; with `options` null, one of an older observer, without
 */
export function snapshot(
  seq: number,
  s: number,
  diffSeq: number,
  state: ObserverStateData,
  options: FoldOptions | null = DEFAULT_FOLD_OPTIONS,
): SnapshotRecord {
  return {
    ...header(seq, s),
    type: "snapshot",
    diff_seq: diffSeq,
    state,
    ...(options === null ? {} : { fold_options: recordFoldOptions(options) }),
  };
}

/** One JSONL line (with its newline) of a record, or of any value */
export function jsonl(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/** A line of the diff history with a record's header only (and `extra` fields), `seq` s after T0 */
export function headerLine(seq: number, extra = ""): string {
  return `{"schema_version":1,"seq":${seq},"ts":"${at(seq)}","type":"message"${extra}}\n`;
}

/** A new data directory holding a diff history: closed segments of these lines, then the active file */
export async function segmentedDir(
  segments: string[][],
  active: string[] | undefined,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "history-test-" });
  for (const [i, lines] of segments.entries()) {
    await Deno.writeTextFile(closedPath(dir, DIFF_FILE_BASE, i + 1), lines.join(""));
  }
  if (active) await Deno.writeTextFile(activePath(dir, DIFF_FILE_BASE), active.join(""));
  return dir;
}

/** A new data directory holding these files: `diff` and `state` name the active histories */
export async function dataDir(
  files: { diff?: string; state?: string; [name: string]: string | undefined },
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "oracle-test-" });
  for (const [name, text] of Object.entries(files)) {
    if (text === undefined) continue;
    const path = name === "diff"
      ? activePath(dir, DIFF_FILE_BASE)
      : name === "state"
      ? activePath(dir, STATE_FILE_BASE)
      : `${dir}/${name}`;
    await Deno.writeTextFile(path, text);
  }
  return dir;
}
