/**
 * The passive watcher: reads every agent queue (a topic KAFKA_TOPIC_PATTERN matches) in the observer's own group,
 * from the positions in its own files, and hands each record to the recorder exactly once.
 *
 * - Exactly once: per partition it keeps the next offset it expects. A record below it was
 *   already recorded (a redelivery after a rebalance or a restart) and is skipped; a record above
 *   it means the consumer skipped ahead (committed offsets are only a hint), so it seeks back
 *   once; a gap that persists (records deleted by retention) is accepted.
 * - New topics: the topic list is refreshed every OBSERVER_TOPIC_REFRESH_MS; a new agent queue
 *   restarts the feed from the recorded positions (no process restart).
 * - A topic deleted and recreated (its high watermark fell below our position) gets a
 *   `topic_reset` record and is read from its start.
 * - Back-pressure: after each batch the feed waits while more than OBSERVER_MAX_PENDING_BYTES wait
 *   for the disk; only the observer's own consumption slows, never the agents'.
 * - Commits of its own group happen only for offsets already durable in the diff file.
 * - A consumer kafkajs gives up on (it restarts from retriable errors only) is recorded
 *   (`consumer_restarted`) and created again from the recorded positions.
 */

import { agentOfTopic, compareOffsets, type TopicPattern } from "@mat/agents/protocol";
import type { Feed, KafkaRecord, ObserverKafka, StartPosition } from "./kafka_adapter.ts";
import type { EventRecorder } from "./event_recorder.ts";
import type { DiffBody } from "./record_format.ts";
import type { Stamped } from "./time_machine_writer.ts";
import { errorText } from "@mat/agents/support";

/** A partition of an agent queue and its offsets, as the broker gave them */
export interface PartitionEnd {
  topic: string;
  partition: number;
  /** The first offset still in the log */
  low: bigint;
  /** The next offset to be written */
  high: bigint;
}

export interface WatcherOptions {
  kafka: ObserverKafka;
  recorder: EventRecorder;
  /** Which topics are agent queues */
  topics: TopicPattern;
  groupId: string;
  topicRefreshMs: number;
  maxPendingBytes: number;
  /** Called after each batch is recorded (the queues were read further) */
  onRead?: () => void;
  log?: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

export class Watcher {
  readonly #o: WatcherOptions;
  #feed: Feed | undefined;
  #topics: string[] = [];
  /** Next offset expected per `topic:partition` */
  readonly #expected = new Map<string, bigint>();
  /** Gaps already sought back once, per `topic:partition` -> expected offset */
  readonly #soughtGap = new Map<string, bigint>();
  /** The newest record time read per `topic:partition` since the start, ms since the epoch */
  readonly #newest = new Map<string, number>();
  /** Next offsets durable on disk, not yet committed */
  readonly #durable = new Map<string, StartPosition>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: () => void = () => {};
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** Last time the broker answered, and the last error when it did not */
  lastKafkaOk = 0;
  kafkaError: string | undefined;
  messagesIngested = 0;
  duplicatesSkipped = 0;
  restarts = 0;
  /** Consumers kafkajs gave up on, each created again */
  consumerCrashes = 0;
  /** Why the consumer crashed, until the one created again is up */
  consumerCrash: string | undefined;
  #crashed = false;

  constructor(options: WatcherOptions) {
    this.#o = options;
    options.recorder.writer.onDurable((records) => this.#onDurable(records));
  }

  get topics(): readonly string[] {
    return this.#topics;
  }

  /** Next offset the observer will record, per partition it reads */
  expectedOffsets(): Map<string, bigint> {
    return this.#expected;
  }

  /** The next offset recorded on a partition: the watcher's, else the one after the history's */
  nextOffset(topic: string, partition: number): bigint | undefined {
    const expected = this.#expected.get(`${topic}:${partition}`);
    if (expected !== undefined) return expected;
    const pos = this.#o.recorder.state.position(topic, partition);
    return pos === undefined ? undefined : BigInt(pos.offset) + 1n;
  }

  /** The newest record time (Kafka's, ms since the epoch) read on a partition since the start */
  newestTime(topic: string, partition: number): number | undefined {
    return this.#newest.get(`${topic}:${partition}`);
  }

  /** Every partition of the agent queues with its offsets, asked of the broker now */
  async partitionEnds(): Promise<PartitionEnd[]> {
    const all = await this.#o.kafka.listTopics();
    const out: PartitionEnd[] = [];
    for (const topic of all.filter((t) => agentOfTopic(t, this.#o.topics) !== undefined)) {
      for (const range of await this.#o.kafka.topicRanges(topic)) {
        out.push({
          topic,
          partition: range.partition,
          low: BigInt(range.low),
          high: BigInt(range.high),
        });
      }
    }
    return out;
  }

  start(): void {
    this.#loop = this.#refreshLoop();
  }

  #log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}): void {
    this.#o.log?.(level, msg, fields);
  }

  async #refreshLoop(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#refresh();
        await this.#commitDurable();
        this.lastKafkaOk = Date.now();
        this.kafkaError = undefined;
      } catch (err) {
        this.kafkaError = errorText(err);
        this.#log("warn", "kafka unavailable, retrying", { error: this.kafkaError });
        await this.#stopFeed();
      }
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, this.#o.topicRefreshMs);
      });
    }
  }

  async #refresh(): Promise<void> {
    const all = await this.#o.kafka.listTopics();
    const topics = all.filter((t) => agentOfTopic(t, this.#o.topics) !== undefined).sort();
    const changed = topics.join("\n") !== this.#topics.join("\n");
    // A recreated topic: its end fell below what we recorded.
    let reset = false;
    for (const topic of topics) {
      // The positions held before the ends are asked for: the feed goes on reading meanwhile,
      // and a position read after the answer may be past an end that was true when it was given
      // (a busy topic is no recreated one)
      const held = new Map<number, string>();
      for (const p of this.#o.recorder.state.positions.values()) {
        if (p.topic === topic) held.set(p.partition, p.offset);
      }
      for (const range of await this.#o.kafka.topicRanges(topic)) {
        const offset = held.get(range.partition);
        const pos = offset === undefined ? undefined : { offset };
        if (pos !== undefined && compareOffsets(pos.offset, range.high) >= 0) {
          this.#o.recorder.record({
            type: "topic_reset",
            topic,
            partition: range.partition,
            previous_offset: pos.offset,
            reason: `high watermark ${range.high} is not above the recorded offset ${pos.offset}`,
          });
          this.#expected.delete(`${topic}:${range.partition}`);
          reset = true;
        }
      }
    }
    if (this.#feed !== undefined && !changed && !reset && !this.#crashed) return;
    this.#crashed = false;
    await this.#stopFeed();
    if (topics.length === 0) {
      this.#topics = topics;
      return;
    }
    const start: StartPosition[] = [];
    for (const topic of topics) {
      for (const range of await this.#o.kafka.topicRanges(topic)) {
        const key = `${topic}:${range.partition}`;
        const pos = this.#o.recorder.state.position(topic, range.partition);
        let next = pos === undefined ? BigInt(range.low) : BigInt(pos.offset) + 1n;
        if (next < BigInt(range.low)) next = BigInt(range.low); // lost to retention
        this.#expected.set(key, next);
        start.push({ topic, partition: range.partition, offset: next.toString() });
      }
    }
    this.#feed = await this.#o.kafka.feed({
      groupId: this.#o.groupId,
      topics,
      start,
      onBatch: (records) => this.#onBatch(records),
      onCrash: (error) => this.#onCrash(error),
    });
    // Reading again: the crash is behind it
    if (!this.#crashed) this.consumerCrash = undefined;
    this.#topics = topics;
    this.restarts++;
    this.#log("info", "watching", { topics });
  }

  /**
   * kafkajs gave up on the consumer: it is recorded, `/health` says so until the new one reads,
   * and the loop is woken to create it again from the recorded positions (exactly once holds: the
   * positions, not the group's commits, say where to read from)
   */
  #onCrash(error: unknown): void {
    if (this.#stopped) return;
    this.consumerCrashes++;
    this.consumerCrash = errorText(error);
    this.#crashed = true;
    this.#log("error", "the consumer crashed for good: creating it again", {
      error: this.consumerCrash,
    });
    this.#o.recorder.record({
      type: "consumer_restarted",
      error: this.consumerCrash,
      crashes: this.consumerCrashes,
    });
    this.#wake();
  }

  async #onBatch(records: KafkaRecord[]): Promise<void> {
    for (const r of records) {
      const key = `${r.topic}:${r.partition}`;
      const offset = BigInt(r.offset);
      const expected = this.#expected.get(key);
      if (expected !== undefined && offset < expected) {
        this.duplicatesSkipped++;
        continue;
      }
      if (expected !== undefined && offset > expected && this.#soughtGap.get(key) !== expected) {
        this.#soughtGap.set(key, expected);
        this.#feed?.seek(r.topic, r.partition, expected.toString());
        this.#log("warn", "gap in offsets, seeking back", {
          topic: r.topic,
          expected: `${expected}`,
        });
        return;
      }
      this.#o.recorder.ingest(r);
      this.#expected.set(key, offset + 1n);
      if (r.timestamp > (this.#newest.get(key) ?? -Infinity)) this.#newest.set(key, r.timestamp);
      this.messagesIngested++;
    }
    this.lastKafkaOk = Date.now();
    this.#o.onRead?.();
    await this.#o.recorder.writer.waitForRoom(this.#o.maxPendingBytes);
  }

  #onDurable(records: Stamped<DiffBody>[]): void {
    // The last record of each partition in the flush: newest first, one lookup per partition.
    const seen = new Set<string>();
    for (let i = records.length - 1; i >= 0; i--) {
      const r = records[i];
      if (r === undefined || (r.type !== "message" && r.type !== "message_malformed")) continue;
      const key = `${r.topic}:${r.partition}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.#durable.set(key, {
        topic: r.topic,
        partition: r.partition,
        offset: (BigInt(r.offset) + 1n).toString(),
      });
    }
  }

  async #commitDurable(): Promise<void> {
    if (this.#feed === undefined || this.#durable.size === 0) return;
    const positions = [...this.#durable.values()].filter((p) => this.#topics.includes(p.topic));
    this.#durable.clear();
    await this.#feed.commit(positions).catch((err) => {
      this.#log("warn", "commit of own group failed (a hint only)", { error: errorText(err) });
    });
  }

  async #stopFeed(): Promise<void> {
    const feed = this.#feed;
    this.#feed = undefined;
    if (feed !== undefined) {
      await feed.stop().catch((err) =>
        this.#log("warn", "the feed did not stop cleanly", { error: errorText(err) })
      );
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake();
    await this.#loop;
    await this.#commitDurable();
    await this.#stopFeed();
  }
}
