/**
 * Runtime events held until the queues have been read up to a death's own time. The runtime
 * source and Kafka are read in no common order: an observer catching up (back from a rollout, or
 * reading a backlog) gets a process's death from its runtime source at once, and the TASK that
 * process held later, from Kafka. A death's tasks in flight must be the handoffs open on its agent
 * at its time (`at`), by the records' own times, not by which arrived first:
 *
 * - A death that names tasks (`EventRecorder.namesTasks`) is held, and every runtime event after
 *   it waits behind it (one order for the runtime events, as the source gave them).
 * - The ends of every partition of the agent queues are asked of the broker after the death
 *   arrived. The death is recorded once each partition is read to that end, or read past its
 *   time (a record of Kafka's time later than `at`, to the kubelet's precision). Replies and
 *   retries read meanwhile, dated after the death, do not hide a task it held (`RecentClosures`);
 *   TASKs dated after it are not its tasks.
 * - Bounded: a death waits at most `maxHoldMs` (OBSERVER_DEATH_HOLD_MS), at most `maxHeld` events
 *   wait, and `flush` (the observer stopping) records every one: a death recorded before the
 *   queues were read up to it says so (`tasks_in_flight_complete: false`).
 *
 * A death held when the observer is killed is not lost: the local source reads its file again
 * from the start and the Kubernetes source lists the pods again, and neither was recorded.
 */

import type { RuntimeEvent } from "./process_event.ts";
import type { LogFn } from "./process_source.ts";
import type { PartitionEnd } from "./watcher.ts";
import { latestMsOf } from "./timestamp_precision.ts";
import { errorText } from "@mat/agents/support";

/** After the broker failed to give the partitions' ends, it is asked again this much later */
const ASK_AGAIN_MS = 1_000;

/** What the hold asks of the Kafka side: the watcher */
export interface KafkaProgress {
  /** Every partition of the agent queues with its offsets, asked of the broker now */
  partitionEnds(): Promise<PartitionEnd[]>;
  /** The next offset the observer records on a partition (undefined: nothing recorded) */
  nextOffset(topic: string, partition: number): bigint | undefined;
  /** The newest Kafka record time read on a partition, ms since the epoch */
  newestTime(topic: string, partition: number): number | undefined;
}

/** What the hold asks of the recorder */
export interface RuntimeRecorder {
  namesTasks(e: RuntimeEvent): boolean;
  recordRuntime(e: RuntimeEvent, kafkaComplete?: boolean): void;
}

export interface RuntimeHoldOptions {
  recorder: RuntimeRecorder;
  kafka: KafkaProgress;
  /** Longest a death waits for the queues, ms */
  maxHoldMs: number;
  /** Most events waiting at once; past it the oldest is recorded */
  maxHeld: number;
  now?: () => number;
  log?: LogFn;
}

interface Held {
  event: RuntimeEvent;
  /** A death whose tasks in flight wait for the queues */
  death: boolean;
  /** The last millisecond the death's time stands for */
  diedBy: number;
  /** When it arrived, by the observer's clock */
  arrived: number;
  /** Its place in arrival order */
  n: number;
  /** The partitions' ends, asked after it arrived */
  ends?: PartitionEnd[];
}

export class RuntimeHold {
  readonly #o: RuntimeHoldOptions;
  readonly #held: Held[] = [];
  #arrivals = 0;
  #asking = false;
  /** After a failed question, the next waits until then (the observer's clock) */
  #askAfter = -Infinity;
  /** Deaths recorded once the queues were read up to them, and those recorded without */
  deathsCorrelated = 0;
  deathsIncomplete = 0;

  constructor(options: RuntimeHoldOptions) {
    this.#o = options;
  }

  /** Events waiting */
  get size(): number {
    return this.#held.length;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /** Records a runtime event now, or holds it (a death, or any event behind one) */
  offer(e: RuntimeEvent): void {
    const death = this.#o.recorder.namesTasks(e);
    if (!death && this.#held.length === 0) {
      this.#o.recorder.recordRuntime(e);
      return;
    }
    this.#held.push({
      event: e,
      death,
      diedBy: latestMsOf(e.at),
      arrived: this.#now(),
      n: ++this.#arrivals,
    });
    while (this.#held.length > this.#o.maxHeld) this.#release(false);
    this.check();
  }

  /** Records the events whose turn has come: call it whenever the queues were read further */
  check(): void {
    const now = this.#now();
    for (let head = this.#held[0]; head !== undefined; head = this.#held[0]) {
      if (!head.death) this.#release(true);
      else if (this.#readUpTo(head)) this.#release(true);
      else if (now - head.arrived >= this.#o.maxHoldMs) this.#release(false);
      else break;
    }
    if (this.#held.some((h) => h.death && h.ends === undefined)) this.#askEnds();
  }

  /** Records every event held (the observer stops), each death saying whether it waited enough */
  flush(): void {
    while (this.#held[0] !== undefined) this.#release(this.#readUpTo(this.#held[0]));
  }

  #release(inTime: boolean): void {
    const h = this.#held.shift();
    if (h === undefined) return;
    const complete = !h.death || inTime;
    if (h.death) {
      if (complete) this.deathsCorrelated++;
      else this.deathsIncomplete++;
    }
    if (h.death && !complete) {
      this.#o.log?.("warn", "a death is recorded before the queues were read up to its time", {
        agent: h.event.agent,
        process: h.event.process,
        at: h.event.at,
        held_ms: this.#now() - h.arrived,
      });
    }
    this.#o.recorder.recordRuntime(h.event, complete);
  }

  /** Whether every partition was read to its end as asked after the death, or past its time */
  #readUpTo(h: Held): boolean {
    if (!h.death) return true;
    if (h.ends === undefined) return false;
    const kafka = this.#o.kafka;
    return h.ends.every((end) =>
      (kafka.nextOffset(end.topic, end.partition) ?? end.low) >= end.high ||
      (kafka.newestTime(end.topic, end.partition) ?? -Infinity) > h.diedBy
    );
  }

  /** Asks the broker for the partitions' ends, for the deaths that arrived before the question */
  #askEnds(): void {
    if (this.#asking || this.#now() < this.#askAfter) return;
    this.#asking = true;
    const asked = this.#arrivals;
    this.#o.kafka.partitionEnds().then((ends) => {
      for (const h of this.#held) {
        if (h.death && h.ends === undefined && h.n <= asked) h.ends = ends;
      }
    }, (err: unknown) => {
      this.#askAfter = this.#now() + ASK_AGAIN_MS;
      this.#o.log?.("warn", "cannot ask the queues' ends for a death; retrying", {
        error: errorText(err),
      });
    }).finally(() => {
      this.#asking = false;
      this.check();
    });
  }
}
