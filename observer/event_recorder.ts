/**
 * Appends records to the diff history and folds them into the state, in observation order: a
 * message, then the events derived from it, then the errors those stand for.
 */

import type { KafkaRecord } from "./kafka_adapter.ts";
import { messageBody } from "./message_record.ts";
import type { DiffBody, DiffRecord, ProcessData } from "./record_format.ts";
import type { ObserverState } from "./observer_state.ts";
import type { TimeMachineWriter } from "./time_machine_writer.ts";
import { fingerprintOf, foldError, occurrenceOf } from "./error_folding.ts";
import type { RuntimeEvent } from "./runtime_event.ts";
import { isDeath } from "./runtime_state.ts";

/** A process's memory is recorded at most this often, unless it moves by a fifth */
const RESOURCES_EVERY_MS = 30_000;

export class EventRecorder {
  constructor(
    readonly writer: TimeMachineWriter<DiffBody>,
    readonly state: ObserverState,
    readonly options: { prefix: string; previewBytes: number; now?: () => Date },
  ) {}

  #now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Appends one record (and the errors it stands for); returns it with its header */
  record(body: DiffBody): DiffRecord {
    // The writer stamps the body with the header; the body's own type decides the record type.
    const record = this.writer.append(body) as DiffRecord;
    this.state.apply(record);
    const occurrence = occurrenceOf(record);
    if (occurrence !== undefined) {
      const previous = this.state.errors.get(fingerprintOf(occurrence));
      this.record(foldError(previous, occurrence, record.ts));
    }
    return record;
  }

  /** Records one Kafka record and everything derived from it */
  ingest(kafkaRecord: KafkaRecord): void {
    const body = messageBody(
      kafkaRecord,
      this.options.prefix,
      this.options.previewBytes,
      this.#now(),
    );
    const record = this.writer.append(body) as DiffRecord;
    const derived = record.type === "message" ? this.state.derive(record) : [];
    this.state.apply(record);
    const occurrence = occurrenceOf(record);
    if (occurrence !== undefined) {
      const previous = this.state.errors.get(fingerprintOf(occurrence));
      this.record(foldError(previous, occurrence, record.ts));
    }
    for (const d of derived) this.record(d);
  }

  readonly #lastResources = new Map<string, { at: number; memory: number }>();

  /**
   * Records one pod or process change. A death (`exited`, `restarted`, `evicted`, `deleted`)
   * names the agent's open handoffs: the tasks it had in flight. A local event already recorded
   * (the source rereads its file after an observer restart) is skipped.
   */
  recordRuntime(e: RuntimeEvent): void {
    const known = this.state.runtime.processes.get(e.process);
    if (e.source === "local" && e.kind !== "resources" && known && seenBefore(known, e)) return;
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
    const cleanStop = e.kind === "exited" && e.reason === "stopped";
    // A local `restarted` is the new process starting; its death was the `exited` before it.
    const death = isDeath(e.kind) && !cleanStop &&
      !(e.source === "local" && e.kind === "restarted");
    const inFlight = death && e.agent !== null
      ? [...this.state.handoffs.values()]
        .filter((h) => h.to === e.agent && Date.parse(h.created_at) <= Date.parse(e.at))
        .map((h) => ({
          task_message_id: h.task_message_id,
          task_id: h.task_id,
          conversation_id: h.conversation_id,
          from: h.from,
          attempt: h.attempt,
        }))
      : [];
    this.record({ type: "runtime_event", ...e, tasks_in_flight: inFlight });
  }

  /** Records handoffs that became stuck, and held replies whose TASK did not come in time */
  checkStuck(): void {
    const now = this.#now();
    for (const d of this.state.stuck(now)) this.record(d);
    for (const d of this.state.expiredReplies(now)) this.record(d);
  }
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
