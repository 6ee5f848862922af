/**
 * One observer: opens both histories, resumes its state from them, then runs the watcher, the
 * queue health poller, the process source (its deaths held until the queues are read up to them:
 * `runtime_hold.ts`), the stuck-handoff check (every second) and the snapshots (every
 * SNAPSHOT_INTERVAL, and at shutdown). A snapshot is written only once the diff records it
 * reflects are durable, so `diff_seq` never points past the diff file.
 */

import { type ObserverConfig, retentionOf } from "./config.ts";
import { EventRecorder } from "./event_recorder.ts";
import { type FoldOptions, recordFoldOptions } from "./fold_options.ts";
import type { ObserverKafka } from "./kafka_adapter.ts";
import { QueueHealth } from "./queue_health.ts";
import {
  DIFF_FILE_BASE,
  type DiffBody,
  type DiffRecord,
  type SnapshotBody,
  STATE_FILE_BASE,
} from "./record_format.ts";
import { resumeState } from "./resume_point.ts";
import { type SegmentDeleted, type Stamped, TimeMachineWriter } from "./time_machine_writer.ts";
import { Watcher } from "./watcher.ts";
import type { ProcessSource } from "./process_source.ts";
import { RuntimeHold } from "./runtime_hold.ts";
import { errorText } from "@mat/agents/support";

export interface Health {
  ok: boolean;
  reasons: string[];
}

/** Recent durable diff records kept in memory for the API and the event stream */
const RECENT_EVENTS = 5_000;
/** Runtime events waiting behind a death at most; past it the oldest is recorded */
const MAX_HELD_RUNTIME_EVENTS = 1_000;

export class Observer {
  readonly config: ObserverConfig;
  readonly diff: TimeMachineWriter<DiffBody>;
  readonly stateFile: TimeMachineWriter<SnapshotBody>;
  readonly recorder: EventRecorder;
  readonly watcher: Watcher;
  readonly queues: QueueHealth;
  /** Runtime events waiting for the queues to be read up to a death's time */
  readonly runtimeHold: RuntimeHold;
  readonly recent: DiffRecord[] = [];
  readonly #subscribers = new Set<(records: DiffRecord[]) => void>();
  #timers: ReturnType<typeof setInterval>[] = [];
  /** The agents' pods or local processes, when a source of them is attached */
  processSource: ProcessSource | undefined;
  snapshotsWritten = 0;
  snapshotError: string | undefined;
  /** Why the process source could not start (a kubeconfig that cannot be read, say) */
  processSourceStartError: string | undefined;
  readonly #log: (
    level: "info" | "warn" | "error",
    msg: string,
    fields?: Record<string, unknown>,
  ) => void;

  private constructor(
    config: ObserverConfig,
    diff: TimeMachineWriter<DiffBody>,
    stateFile: TimeMachineWriter<SnapshotBody>,
    recorder: EventRecorder,
    kafka: ObserverKafka,
    log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.#log = log;
    this.config = config;
    this.diff = diff;
    this.stateFile = stateFile;
    this.recorder = recorder;
    this.watcher = new Watcher({
      kafka,
      recorder,
      topics: config.reading.topicPattern,
      groupId: config.groupId,
      topicRefreshMs: config.topicRefreshMs,
      maxPendingBytes: config.maxPendingBytes,
      onRead: () => this.runtimeHold.check(),
      log,
    });
    this.runtimeHold = new RuntimeHold({
      recorder,
      kafka: this.watcher,
      maxHoldMs: config.deathHoldMs,
      maxHeld: MAX_HELD_RUNTIME_EVENTS,
      log,
    });
    this.queues = new QueueHealth({
      kafka,
      recorder,
      topics: config.reading.topicPattern,
      userInbox: config.reading.userInbox,
      windowSize: config.queueWindow,
      pollMs: config.queuePollMs,
      groupRefreshMs: config.groupRefreshMs,
      ownGroup: config.groupId,
      declaredGroups: config.declaredGroups,
    });
    diff.onDurable((records) => {
      const typed = records as DiffRecord[];
      // A flush may hold many thousands of records: no spread into push (argument limits).
      const keep = typed.length > RECENT_EVENTS ? typed.slice(-RECENT_EVENTS) : typed;
      for (const r of keep) this.recent.push(r);
      if (this.recent.length > RECENT_EVENTS) {
        this.recent.splice(0, this.recent.length - RECENT_EVENTS);
      }
      for (const s of this.#subscribers) s(typed);
    });
  }

  static async open(
    config: ObserverConfig,
    kafka: ObserverKafka,
    log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void =
      () => {},
  ): Promise<Observer> {
    const stateOptions: FoldOptions = {
      prefix: config.topicPrefix,
      topicPattern: config.reading.topicPattern.source,
      userInbox: config.reading.userInbox,
      windowSize: config.queueWindow,
      stuckAfterMs: config.stuckAfterMs,
      orphanGraceMs: config.orphanGraceMs,
    };
    // The writer's header callback needs the state, which needs the writer's last seq: late bind.
    const late: { recorder?: EventRecorder } = {};
    // Retention's deletions are recorded in the diff history (once the recorder exists)
    const deleted = (history: "diff" | "state", retainBytes: number) => (d: SegmentDeleted) => {
      if (d.error !== undefined) {
        log("warn", "retention cannot delete a segment", { history, file: d.file, error: d.error });
        return;
      }
      late.recorder?.record({
        type: "segment_deleted",
        history,
        file: d.file,
        bytes: d.bytes,
        last_seq: d.lastSeq,
        retain_bytes: retainBytes,
      });
    };
    const diffRetention = retentionOf(config, "diff");
    const stateRetention = retentionOf(config, "state");
    const diff = await TimeMachineWriter.open<DiffBody>({
      dir: config.dataDir,
      base: DIFF_FILE_BASE,
      ...diffRetention,
      onSegmentDeleted: deleted("diff", diffRetention.retainBytes),
      syncIntervalMs: config.syncIntervalMs,
      segmentHeader: (segment) => ({
        type: "segment_started",
        segment,
        positions: [...(late.recorder?.state.positions.values() ?? [])],
      }),
    });
    const stateFile = await TimeMachineWriter.open<SnapshotBody>({
      dir: config.dataDir,
      base: STATE_FILE_BASE,
      ...stateRetention,
      onSegmentDeleted: deleted("state", stateRetention.retainBytes),
      syncIntervalMs: config.syncIntervalMs,
    });
    const resumed = await resumeState(config.dataDir, diff.lastSeq, stateOptions);
    const recorder = new EventRecorder(diff, resumed.state, {
      dialects: config.reading.dialects,
      previewBytes: config.previewBytes,
    });
    late.recorder = recorder;
    const observer = new Observer(config, diff, stateFile, recorder, kafka, log);
    recorder.record({
      type: "observer_started",
      pid: Deno.pid,
      resumed_partitions: resumed.state.positions.size,
      torn_bytes_cut: diff.tornBytesCut,
      positions: [...resumed.state.positions.values()],
      fold_options: recordFoldOptions(stateOptions),
      dialects: config.reading.dialectNames,
    });
    log("info", "observer resumed", {
      diff_seq: diff.lastSeq,
      snapshot_diff_seq: resumed.snapshotDiffSeq,
      replayed: resumed.replayed,
      invalid_lines_skipped: resumed.invalidLines,
      torn_bytes_cut: diff.tornBytesCut,
      partitions: resumed.state.positions.size,
    });
    return observer;
  }

  start(): void {
    this.watcher.start();
    this.queues.start();
    this.#startProcessSource();
    this.#timers.push(setInterval(() => {
      this.recorder.checkStuck();
      this.runtimeHold.check();
    }, 1_000));
    this.#timers.push(
      setInterval(
        () =>
          void this.snapshot().catch((err) =>
            this.#log("warn", "snapshot failed; the next one retries", { error: errorText(err) })
          ),
        this.config.snapshotIntervalMs,
      ),
    );
  }

  /**
   * Starts the process source. One that cannot start (its configuration unreadable) does not end
   * the observer: the queues are still watched, the failure is a `source_error` event and a
   * `/health` reason.
   */
  #startProcessSource(): void {
    const source = this.processSource;
    if (source === undefined) return;
    source.start((e) => this.runtimeHold.offer(e)).catch((err: unknown) => {
      const message = errorText(err);
      this.processSourceStartError = message;
      this.#log("error", "the runtime source cannot start", { source: source.source, message });
      this.runtimeHold.offer({
        source: source.source,
        kind: "source_error",
        agent: null,
        process: "",
        at: new Date().toISOString(),
        reason: "StartFailed",
        message,
      });
    });
  }

  /** Subscribes to durable diff records; returns the unsubscribe function */
  subscribe(listener: (records: DiffRecord[]) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  /** Writes a snapshot of the state as of the last diff record, once that record is durable */
  async snapshot(): Promise<void> {
    const diffSeq = this.diff.lastSeq;
    const snapshot = this.recorder.state.snapshot(diffSeq);
    try {
      await this.diff.flush();
      this.stateFile.append(snapshot);
      await this.stateFile.flush();
      this.snapshotsWritten++;
      this.snapshotError = undefined;
    } catch (err) {
      this.snapshotError = errorText(err);
      throw err;
    }
  }

  /** The observer's own lag: messages in agent queues not yet recorded */
  ownLag(): number {
    let lag = 0n;
    const expected = this.watcher.expectedOffsets();
    for (const [key, high] of this.queues.highs) {
      const next = expected.get(key) ?? 0n;
      if (high > next) lag += high - next;
    }
    return Number(lag);
  }

  health(): Health {
    const reasons: string[] = [];
    const kafkaDown = this.watcher.kafkaError ?? this.queues.lastError;
    if (kafkaDown !== undefined) reasons.push(`Kafka is unreachable: ${kafkaDown}`);
    else if (this.watcher.lastKafkaOk === 0) reasons.push("Kafka has not answered yet");
    if (this.watcher.consumerCrash !== undefined) {
      reasons.push(
        `The consumer crashed and is being created again: ${this.watcher.consumerCrash}`,
      );
    }
    const diffHealth = this.diff.health();
    if (!diffHealth.ok) reasons.push(`Writing the diff history fails: ${diffHealth.error ?? ""}`);
    const stateHealth = this.stateFile.health();
    if (!stateHealth.ok) {
      reasons.push(`Writing the state history fails: ${stateHealth.error ?? ""}`);
    }
    // These reasons are part of the HTTP API (/health): their words stay.
    if (this.processSourceStartError !== undefined) {
      reasons.push(`The runtime source cannot start: ${this.processSourceStartError}`);
    }
    const processes = this.processSource?.health();
    if (processes && !processes.ok) {
      reasons.push(`The runtime source cannot see the agents: ${processes.reason ?? "unknown"}`);
    }
    const lag = this.ownLag();
    if (lag > this.config.maxOwnLag) {
      reasons.push(`The observer is ${lag} messages behind (limit ${this.config.maxOwnLag})`);
    }
    return { ok: reasons.length === 0, reasons };
  }

  /** Stops reading, writes a last snapshot, flushes and closes both histories */
  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await this.queues.stop();
    await this.watcher.stop();
    await this.processSource?.stop().catch((err) =>
      this.#log("warn", "the runtime source did not stop cleanly", { error: errorText(err) })
    );
    this.runtimeHold.flush();
    await this.snapshot().catch((err) =>
      this.#log("warn", "the last snapshot failed", { error: errorText(err) })
    );
    await this.diff.close();
    await this.stateFile.close();
  }
}

export type { Stamped };
