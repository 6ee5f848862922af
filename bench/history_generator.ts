/**
 * Generates a large time machine in the real record format by driving the observer's own code
 * (EventRecorder, ObserverState, TimeMachineWriter with rotation) with synthetic Kafka records
 * on a simulated clock: conversations of TASK/RESULT handoffs, some rate-limited ERRORs, some
 * malformed records, some tasks never answered (stuck), and a snapshot every few thousand records.
 * `workers` and `partitions` give it a larger shape (50 agents x 12 partitions: `fleetWorkerNames`),
 * and `faults: false` a healthy one: every task answered, no error, nothing malformed.
 */

import {
  ALL_DIALECTS,
  createEnvelope,
  encodeEnvelope,
  replyTo,
  topicFor,
} from "@mat/agents/protocol";
import { DIFF_FILE_BASE, type DiffBody, type SnapshotBody, STATE_FILE_BASE } from "@mat/observer";
import { EventRecorder } from "../observer/event_recorder.ts";
import type { KafkaRecord } from "../observer/kafka_adapter.ts";
import { DEFAULT_FOLD_OPTIONS } from "../observer/fold_options.ts";
import { ObserverState } from "../observer/observer_state.ts";
import { TimeMachineWriter } from "../observer/time_machine_writer.ts";

export interface GenerateOptions {
  dir: string;
  /** Stop once the diff history reaches this many bytes */
  bytes: number;
  /** Simulated start time */
  start: number;
  /** Simulated milliseconds between two Kafka records */
  stepMs: number;
  segmentBytes?: number;
  snapshotEvery?: number;
  progress?: (bytes: number) => void;
  /** The agents handed tasks by the orchestrator, one conversation through all (default three) */
  workers?: readonly string[];
  /** Partitions of every queue (default 3) */
  partitions?: number;
  /** Stuck tasks, rate-limited ERRORs and malformed records among the rest (default true) */
  faults?: boolean;
}

const PREFIX = "agent-queue-";
const WORKERS = ["researcher", "writer", "coder"] as const;
const encoder = new TextEncoder();

export async function generateHistory(options: GenerateOptions): Promise<{ records: number }> {
  let clock = options.start;
  const now = () => new Date(clock);
  const segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
  const stateOptions = { ...DEFAULT_FOLD_OPTIONS, prefix: PREFIX };
  const state = new ObserverState(stateOptions);
  const diff = await TimeMachineWriter.open<DiffBody>({
    dir: options.dir,
    base: DIFF_FILE_BASE,
    segmentBytes,
    retainBytes: 2 ** 50,
    syncIntervalMs: 60_000,
    now,
    segmentHeader: (segment) => ({
      type: "segment_started",
      segment,
      positions: [...state.positions.values()],
    }),
  });
  const snaps = await TimeMachineWriter.open<SnapshotBody>({
    dir: options.dir,
    base: STATE_FILE_BASE,
    segmentBytes,
    retainBytes: 2 ** 50,
    syncIntervalMs: 60_000,
    now,
  });
  const recorder = new EventRecorder(diff, state, {
    dialects: ALL_DIALECTS,
    previewBytes: 512,
    now,
  });
  const workers = options.workers ?? WORKERS;
  const partitions = options.partitions ?? 3;
  const faults = options.faults ?? true;
  const offsets = new Map<string, number>();
  const perTopic = new Map<string, number>();
  const kafka = (topic: string, value: string | Uint8Array): KafkaRecord => {
    // The default shape keeps the partitions its benchmarks were measured on; a shape asked for
    // spreads each topic's records round-robin over its partitions
    const sent = perTopic.get(topic) ?? 0;
    perTopic.set(topic, sent + 1);
    const partition = options.partitions === undefined
      ? (offsets.size + topic.length) % 3
      : sent % partitions;
    const key = `${topic}:${partition}`;
    const offset = offsets.get(key) ?? 0;
    offsets.set(key, offset + 1);
    return {
      topic,
      partition,
      offset: String(offset),
      key: null,
      value: typeof value === "string" ? encoder.encode(value) : value,
      headers: {},
      timestamp: clock,
    };
  };
  const snapshotEvery = options.snapshotEvery ?? 5_000;
  let n = 0;
  let written = 0;
  let conversation = 0;
  const text = "Consumer lag is the distance between the newest offset and the committed one. ";
  while (written < options.bytes) {
    conversation++;
    const conv = `conv-${conversation.toString(16).padStart(8, "0")}`;
    for (const [i, worker] of workers.entries()) {
      const task = createEnvelope({
        type: "TASK",
        source: "orchestrator",
        target: worker,
        conversation_id: conv,
        task_id: `${conv}.${i + 1}-${worker}`,
        deadline: new Date(clock + 20_000),
        payload: { instruction: text.repeat(3), context: text.repeat(2) },
      }, now());
      recorder.ingest(kafka(topicFor(worker, PREFIX), encodeEnvelope(task)));
      clock += options.stepMs;
      n++;
      if (faults && conversation % 97 === 0 && worker === "writer") continue; // never answered
      if (faults && conversation % 13 === 0 && worker === "coder") {
        recorder.ingest(kafka(
          topicFor("orchestrator", PREFIX),
          encodeEnvelope(replyTo(task, "ERROR", {
            error: {
              kind: "llm_rate_limit",
              message: "LLM rate limit (HTTP 429)",
              retryable: true,
            },
          })),
        ));
      } else {
        recorder.ingest(kafka(
          topicFor("orchestrator", PREFIX),
          encodeEnvelope(replyTo(task, "RESULT", {
            payload: { output: text.repeat(4) },
            usage: {
              model: "scripted-1",
              input_tokens: 120,
              output_tokens: 80,
              cost_usd: 0.00007,
              latency_ms: 40,
            },
          })),
        ));
      }
      clock += options.stepMs;
      n++;
    }
    if (faults && conversation % 500 === 0) {
      recorder.ingest(kafka(topicFor("orchestrator", PREFIX), `{"type":"RESULT",`));
      n++;
    }
    recorder.checkStuck();
    if (n % snapshotEvery < 7) {
      await diff.flush();
      snaps.append(state.snapshot(diff.lastSeq));
      await snaps.flush();
      written = 0;
      for await (const e of Deno.readDir(options.dir)) {
        if (e.name.startsWith(DIFF_FILE_BASE)) {
          written += (await Deno.stat(`${options.dir}/${e.name}`)).size;
        }
      }
      options.progress?.(written);
    }
  }
  await diff.flush();
  snaps.append(state.snapshot(diff.lastSeq));
  await diff.close();
  await snaps.close();
  return { records: n };
}
