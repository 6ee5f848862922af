/**
 * A recorder on a real writer in a temp dir, with a clock the test moves: what the tests of the
 * observer's state and of the rules over it feed envelopes to, as the watcher would.
 */

import { createEnvelope, encodeEnvelope, type Envelope } from "@mat/agents";
import { EventRecorder } from "../event_recorder.ts";
import type { FoldOptions } from "../fold_options.ts";
import type { KafkaRecord } from "../kafka_adapter.ts";
import { ObserverState } from "../observer_state.ts";
import { ALL_DIALECTS, TopicPattern, USER_INBOX } from "@mat/agents/protocol";
import { type DiffBody, type DiffRecord, validateDiffRecord } from "../record_format.ts";
import { TimeMachineWriter } from "../time_machine_writer.ts";
import { readHistory } from "../time_machine_reader.ts";

export const PREFIX = "agent-queue-";
export const GRACE = 5_000;
export const OPTIONS: FoldOptions = {
  prefix: PREFIX,
  topicPattern: TopicPattern.ofPrefix(PREFIX).source,
  userInbox: USER_INBOX,
  windowSize: 3,
  stuckAfterMs: 60_000,
  orphanGraceMs: GRACE,
};

export interface Bed {
  dir: string;
  clock: { now: Date };
  recorder: EventRecorder;
  state: ObserverState;
  /** Ingests envelopes as Kafka records of the target's queue */
  see(...envelopes: Envelope[]): void;
  advance(ms: number): void;
  /** Every record on disk, each one validated */
  records(): Promise<DiffRecord[]>;
  close(): Promise<void>;
}

/** A recorder on a real writer in a temp dir, with a clock the test moves */
export async function bed(state: ObserverState = new ObserverState(OPTIONS)): Promise<Bed> {
  const dir = await Deno.makeTempDir({ prefix: "observer-state-test-" });
  const clock = { now: new Date("2026-01-01T00:00:00.000Z") };
  const writer = await TimeMachineWriter.open<DiffBody>({
    dir,
    base: "diff",
    segmentBytes: 1 << 20,
    retainBytes: 2 ** 40,
    syncIntervalMs: 60_000,
    now: () => clock.now,
  });
  const recorder = new EventRecorder(writer, state, {
    dialects: ALL_DIALECTS,
    previewBytes: 256,
    now: () => clock.now,
  });
  const offsets = new Map<string, number>();
  return {
    dir,
    clock,
    recorder,
    state,
    /** Ingests envelopes as Kafka records of the target's queue */
    see(...envelopes: Envelope[]): void {
      for (const e of envelopes) {
        const topic = `${PREFIX}${e.target}`;
        const offset = offsets.get(topic) ?? 0;
        offsets.set(topic, offset + 1);
        const record: KafkaRecord = {
          topic,
          partition: 0,
          offset: String(offset),
          key: null,
          value: new TextEncoder().encode(encodeEnvelope(e)),
          headers: {},
          timestamp: clock.now.getTime(),
        };
        recorder.ingest(record);
      }
    },
    advance(ms: number): void {
      clock.now = new Date(clock.now.getTime() + ms);
    },
    /** Every record on disk, each one validated */
    async records(): Promise<DiffRecord[]> {
      await writer.flush();
      const out: DiffRecord[] = [];
      for await (const v of readHistory(dir, "diff")) {
        const parsed = validateDiffRecord(v);
        if (!parsed.ok) throw new TypeError(parsed.reason);
        out.push(parsed.record);
      }
      return out;
    },
    async close(): Promise<void> {
      await writer.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The events, a TASK's `message` that opens its handoff named `handoff_started` */
export function types(records: DiffRecord[]): string[] {
  return records
    .map((r) => r.type === "message" && r.handoff === "started" ? "handoff_started" : r.type)
    .filter((t) => t !== "segment_started" && t !== "message");
}

export function task(taskId: string): Envelope {
  return createEnvelope({
    type: "TASK",
    source: "orchestrator",
    target: "researcher",
    conversation_id: `c-${taskId}`,
    task_id: taskId,
  });
}

/** A sample of the researcher's queue with no member: its tasks are unconsumed from now on */
export function unreadQueue(): DiffBody {
  return {
    type: "queue_sample",
    agent: "researcher",
    topic: `${PREFIX}researcher`,
    group: "agent-researcher",
    group_state: "Empty",
    members: [],
    partitions: [{ partition: 0, high: "0", committed: null, lag: 0 }],
    lag: 0,
    status: "OK",
    status_reason: "no lag",
  };
}

export function flood(n: number, deadline: Date): Envelope[] {
  return Array.from({ length: n }, (_, i) =>
    createEnvelope({
      type: "TASK",
      source: "orchestrator",
      target: "researcher",
      conversation_id: `c-${i}`,
      task_id: `t-${i}`,
      deadline,
    }));
}
