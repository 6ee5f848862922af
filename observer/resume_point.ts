/**
 * Where the observer resumes after any stop, crash or `kill -9`: from its own files, never from
 * Kafka's committed offsets. The latest snapshot whose `diff_seq` is on disk in the diff history
 * is loaded, then every diff record after it is replayed; `segment_started` lines carry all
 * positions, so even without a snapshot only the retained segments are read. The state's
 * positions are then the last offset on disk per partition: reading resumes at offset + 1.
 */

import {
  DIFF_FILE_BASE,
  type ObserverStateData,
  STATE_FILE_BASE,
  validateDiffRecord,
  validateSnapshot,
} from "./record_format.ts";
import type { FoldOptions } from "./fold_options.ts";
import { ObserverState } from "./observer_state.ts";
import { readHistory, readLines } from "./time_machine_reader.ts";
import { listSegments } from "./segment_files.ts";

export interface Resumed {
  state: ObserverState;
  snapshotDiffSeq: number;
  replayed: number;
  invalidLines: number;
}

/** The newest snapshot reflecting no more than `maxDiffSeq`, reading newest segments first */
export async function latestSnapshot(
  dir: string,
  maxDiffSeq: number,
): Promise<{ diffSeq: number; state: ObserverStateData } | undefined> {
  const segments = await listSegments(dir, STATE_FILE_BASE);
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i];
    if (segment === undefined) continue;
    let found: { diffSeq: number; state: ObserverStateData } | undefined;
    for await (const line of readLines(segment.path)) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue;
      }
      const parsed = validateSnapshot(value);
      if (parsed.ok && parsed.record.diff_seq <= maxDiffSeq) {
        found = { diffSeq: parsed.record.diff_seq, state: parsed.record.state };
      }
    }
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Rebuilds the state as of the last diff record on disk */
export async function resumeState(
  dir: string,
  lastDiffSeq: number,
  options: FoldOptions,
): Promise<Resumed> {
  const snapshot = await latestSnapshot(dir, lastDiffSeq);
  const state = new ObserverState(options, snapshot?.state);
  const from = snapshot?.diffSeq ?? 0;
  let replayed = 0;
  let invalidLines = 0;
  for await (const value of readHistory(dir, DIFF_FILE_BASE, from)) {
    const parsed = validateDiffRecord(value);
    if (!parsed.ok) {
      invalidLines++;
      continue;
    }
    state.apply(parsed.record);
    replayed++;
  }
  return { state, snapshotDiffSeq: from, replayed, invalidLines };
}
