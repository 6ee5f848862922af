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

  /** Records handoffs that became stuck */
  checkStuck(): void {
    for (const d of this.state.stuck(this.#now())) this.record(d);
  }
}
