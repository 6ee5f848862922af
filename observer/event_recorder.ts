/**
 * Appends records to the diff history and folds them into the state, in observation order: a
 * message, then the events derived from it, then the errors those stand for.
 *
 * Lines carry information, even under a flood:
 * - a TASK is one line (its `message` record opens the handoff and says when its queue is unread);
 * - errors are coalesced: the first occurrence of a fingerprint in a sync interval is written at
 *   once; later ones in the same interval update a pending fold, written as one `error` line with
 *   `occurrences` at the end of the interval (`flushFolds`), so `count` stays exact in the history;
 * - more than STUCK_SINGLE handoffs stuck at one check are written STUCK_BATCH to a line
 *   (`handoffs_stuck`);
 * - a death names at most MAX_TASKS_IN_FLIGHT of the tasks it held, and counts the rest;
 * - a death names the tasks open on its agent at its own time, though recorded later: a reply or
 *   retry dated after it, folded before it, does not hide a task it held (`RecentClosures`).
 */

import type { KafkaRecord } from "./kafka_adapter.ts";
import { messageBody } from "./message_record.ts";
import type { DialectChoice } from "@mat/agents/protocol";
import { topicPatternOf } from "./fold_options.ts";
import type {
  Body,
  DiffBody,
  DiffRecord,
  ErrorRecord,
  ProcessData,
  RuntimeEventRecord,
} from "./record_format.ts";
import type { ObserverState } from "./observer_state.ts";
import { annotate, correlate, derive, expiredReplies } from "./derive_rules.ts";
import { stuckHandoffs } from "./stuck_rules.ts";
import type { TimeMachineWriter } from "./time_machine_writer.ts";
import {
  fingerprintOf,
  foldError,
  type Occurrence,
  occurrenceOf,
  stuckOccurrence,
} from "./error_folding.ts";
import type { RuntimeEvent } from "./process_event.ts";
import { isDeath } from "./process_state.ts";
import { latestMsOf } from "./timestamp_precision.ts";
import { RecentClosures } from "./recent_closures.ts";
import { LIMITS } from "./state_limits.ts";

type LostTask = RuntimeEventRecord["tasks_in_flight"][number];

/** A process's memory is recorded at most this often, unless it moves by a fifth */
const RESOURCES_EVERY_MS = 30_000;
/** Up to this many handoffs stuck at one check get a `handoff_stuck` line each */
export const STUCK_SINGLE = 10;
/** Handoffs per `handoffs_stuck` line */
export const STUCK_BATCH = 500;
/** Tasks named in a death's `tasks_in_flight` (the rest are counted) */
export const MAX_TASKS_IN_FLIGHT = 100;
/** Conversations a coalesced `error` line names (`conversation_ids`) */
export const COALESCED_CONVERSATIONS = 100;

type ErrorBody = Body<ErrorRecord>;

export class EventRecorder {
  constructor(
    readonly writer: TimeMachineWriter<DiffBody>,
    readonly state: ObserverState,
    readonly options: { dialects: DialectChoice; previewBytes: number; now?: () => Date },
  ) {
    // Coalesced folds are durable in the same flush as the records they count
    writer.beforeFlush(() => this.flushFolds());
  }

  /** Folds waiting for the end of the sync interval, by fingerprint */
  readonly #pendingFolds = new Map<
    string,
    { body: ErrorBody; occurrences: number; conversations: Set<string> }
  >();
  /** Fingerprints written once already in this sync interval */
  readonly #writtenThisInterval = new Set<string>();

  #now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Handoffs closed lately and when, for a death recorded after them (`tasksInFlightAt`) */
  readonly closures = new RecentClosures(LIMITS.recentClosedTasks);

  /** Appends one record (and the errors it stands for); returns it with its header */
  record(body: DiffBody): DiffRecord {
    // The writer stamps the body with the header; the body's own type decides the record type.
    const record = this.writer.append(body) as DiffRecord;
    this.#noteClosure(record);
    this.state.apply(record);
    this.#occurred(record);
    return record;
  }

  /** Notes the open handoff a reply or a retry closes, dated by the reply's or retry's own time */
  #noteClosure(r: DiffRecord): void {
    if (r.type === "handoff_completed" || r.type === "handoff_failed") {
      const h = this.state.handoffs.get(r.task_message_id);
      if (h !== undefined) this.closures.note(h, Date.parse(h.created_at) + r.latency_ms);
    } else if (r.type === "handoff_retried" && r.created_at !== undefined) {
      const h = this.state.handoffs.get(r.previous_message_id);
      if (h !== undefined) this.closures.note(h, Date.parse(r.created_at));
    }
  }

  /** Folds the error occurrences a record stands for (a `handoffs_stuck` line: one each) */
  #occurred(record: DiffRecord): void {
    if (record.type === "handoffs_stuck") {
      for (const h of record.handoffs) this.#fold(stuckOccurrence(h, record.seq), record.ts);
      return;
    }
    const o = occurrenceOf(record);
    if (o !== undefined) this.#fold(o, record.ts);
  }

  /** Writes an occurrence's fold at once, or coalesces it when its fingerprint was just written */
  #fold(o: Occurrence, at: string): void {
    const fingerprint = fingerprintOf(o);
    const pending = this.#pendingFolds.get(fingerprint);
    const body = foldError(pending?.body ?? this.state.errors.get(fingerprint), o, at);
    if (pending === undefined && !this.#writtenThisInterval.has(fingerprint)) {
      this.#writtenThisInterval.add(fingerprint);
      this.record(body);
    } else {
      const conversations = pending?.conversations ?? new Set<string>();
      if (o.conversation_id !== null && conversations.size < COALESCED_CONVERSATIONS) {
        conversations.add(o.conversation_id);
      }
      this.#pendingFolds.set(fingerprint, {
        body,
        occurrences: (pending?.occurrences ?? 0) + 1,
        conversations,
      });
    }
  }

  /** Writes the coalesced folds of this sync interval (called every interval and before a snapshot) */
  flushFolds(): void {
    const pending = [...this.#pendingFolds.values()];
    this.#pendingFolds.clear();
    this.#writtenThisInterval.clear();
    for (const { body, occurrences, conversations } of pending) {
      this.record({
        ...body,
        occurrences,
        ...(conversations.size > 0 ? { conversation_ids: [...conversations] } : {}),
      });
    }
  }

  /** Folds not written yet */
  get pendingFolds(): number {
    return this.#pendingFolds.size;
  }

  /** Records one Kafka record and everything derived from it */
  ingest(kafkaRecord: KafkaRecord): void {
    const body = messageBody(kafkaRecord, {
      topics: topicPatternOf(this.state.options),
      dialects: this.options.dialects,
      previewBytes: this.options.previewBytes,
      isAgent: (name) => this.state.queues.has(name),
    }, this.#now());
    if (body.type === "message") {
      correlate(this.state, body);
      annotate(this.state, body);
    }
    const record = this.writer.append(body) as DiffRecord;
    const derived = record.type === "message" ? derive(this.state, record) : [];
    this.state.apply(record);
    this.#occurred(record);
    for (const d of derived) this.record(d);
  }

  readonly #lastResources = new Map<string, { at: number; memory: number }>();

  /**
   * Whether `e` is a death whose tasks in flight recording it names: a pod or process of a known
   * agent ending its work (not a clean stop), not recorded already
   */
  namesTasks(e: RuntimeEvent): boolean {
    return e.agent !== null && endsWork(e) && !this.#recordedAlready(e);
  }

  /** A local event already recorded (the source rereads its file after an observer restart) */
  #recordedAlready(e: RuntimeEvent): boolean {
    const known = this.state.runtime.processes.get(e.process);
    return e.source === "local" && e.kind !== "resources" && known !== undefined &&
      seenBefore(known, e);
  }

  /**
   * The handoffs open on `agent` at the instant `at` stands for, by the records' own times: those
   * made by then and open now, and those closed since by a reply or a retry made after it
   */
  tasksInFlightAt(agent: string, at: string): { tasks: LostTask[]; complete: boolean } {
    // A kubelet dates a death to the second: a task handed off later in that second (the
    // envelope's milliseconds) may still have been in flight.
    const diedBy = latestMsOf(at);
    const open = [...this.state.handoffs.values()]
      .filter((h) => h.to === agent && Date.parse(h.created_at) <= diedBy);
    const closedSince = this.closures.openAt(agent, diedBy)
      .filter((h) => !this.state.handoffs.has(h.task_message_id));
    // Oldest opened first, then the ones closed since (no sort: a flood may hold thousands)
    const tasks = [...open, ...closedSince]
      .map((h) => ({
        task_message_id: h.task_message_id,
        task_id: h.task_id,
        conversation_id: h.conversation_id,
        from: h.from,
        attempt: h.attempt,
      }));
    return { tasks, complete: !this.closures.forgotAfter(diedBy) };
  }

  /**
   * Records one pod or process change. A death (`exited`, `restarted`, `evicted`, `deleted`)
   * names the agent's handoffs open at the death's own time: the tasks it had in flight.
   * `kafkaComplete` false says the queues could not be read up to that time first (a death held
   * by `runtime_hold.ts` past its bound): the record then says its list may miss a task. A local
   * event already recorded (the source rereads its file after an observer restart) is skipped.
   */
  recordRuntime(e: RuntimeEvent, kafkaComplete = true): void {
    if (this.#recordedAlready(e)) return;
    if (e.kind === "resources") {
      const last = this.#lastResources.get(e.process);
      const at = Date.parse(e.at);
      const memory = e.memory_bytes ?? 0;
      if (
        last && at - last.at < RESOURCES_EVERY_MS &&
        Math.abs(memory - last.memory) < last.memory / 5
      ) return;
      this.#lastResources.set(e.process, { at, memory });
    }
    const inFlight = e.agent !== null && endsWork(e)
      ? this.tasksInFlightAt(e.agent, e.at)
      : { tasks: [], complete: true };
    const omitted = inFlight.tasks.length - MAX_TASKS_IN_FLIGHT;
    const complete = kafkaComplete && inFlight.complete;
    this.record({
      type: "runtime_event",
      ...e,
      tasks_in_flight: omitted > 0 ? inFlight.tasks.slice(0, MAX_TASKS_IN_FLIGHT) : inFlight.tasks,
      ...(omitted > 0 ? { tasks_in_flight_omitted: omitted } : {}),
      ...(complete || !endsWork(e) ? {} : { tasks_in_flight_complete: false }),
    });
  }

  /** Records handoffs that became stuck, and held replies whose TASK did not come in time */
  checkStuck(): void {
    const now = this.#now();
    const stuck = stuckHandoffs(this.state, now);
    if (stuck.length <= STUCK_SINGLE) {
      for (const d of stuck) this.record(d);
    } else {
      for (let i = 0; i < stuck.length; i += STUCK_BATCH) {
        const handoffs = stuck.slice(i, i + STUCK_BATCH).map(({ type: _t, ...h }) => h);
        this.record({ type: "handoffs_stuck", handoffs });
      }
    }
    for (const d of expiredReplies(this.state, now)) this.record(d);
  }
}

/** A death that ends an agent's work: not a clean stop, nor a local `restarted` (a new start) */
function endsWork(e: RuntimeEvent): boolean {
  const cleanStop = e.kind === "exited" && e.reason === "stopped";
  // A local `restarted` is the new process starting; its death was the `exited` before it.
  return isDeath(e.kind) && !cleanStop && !(e.source === "local" && e.kind === "restarted");
}

/**
 * Whether a local event was recorded already (the local source rereads its file after an observer
 * restart). One line of the supervisor can yield two events at the same time (`restarted`, then
 * `started`), so a tie on time is decided by what the state already holds from that event.
 */
function seenBefore(known: ProcessData, e: RuntimeEvent): boolean {
  if (e.at !== known.last_event_at) return e.at < known.last_event_at;
  switch (e.kind) {
    case "started":
      return known.started_at === e.at;
    case "restarted":
      return known.last_termination?.at === e.at &&
        known.restart_count >= (e.restart_count ?? 0);
    case "exited":
      return known.status === "exited" && known.last_termination?.at === e.at;
    case "crash_loop":
      return known.status === "crash_loop";
    default:
      return true;
  }
}
