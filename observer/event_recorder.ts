/**
 * Appends records to the diff history and folds them into the state, in observation order: a
 * message, then the events derived from it, then the errors those stand for.
 */

import type { KafkaRecord } from "./kafka_adapter.ts";
import { messageBody } from "./message_record.ts";
import type { DiffBody, DiffRecord } from "./record_format.ts";
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
    if (e.source === "local" && e.kind !== "resources" && known && e.at <= known.last_event_at) {
      return;
    }
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
    const inFlight = isDeath(e.kind) && !cleanStop && e.agent !== null
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
