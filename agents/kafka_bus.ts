/**
 * The only file of `agents` that imports kafkajs. The rest of the code sees `Bus`: send records,
 * ask whether a queue exists, consume a group's topics with manual commits. A topic the broker
 * lacks is a `MissingTopicError`, found by asking the broker, never by reading kafkajs's messages.
 */

import { Buffer } from "node:buffer";
import { type Admin, type Consumer, Kafka, logLevel, Partitioners, type Producer } from "kafkajs";
import {
  createMissingTopics,
  disconnectAll,
  headerText,
  jsonLogCreator,
  silenceKafkaJsTimeoutWarnings,
} from "./kafkajs_support.ts";
import { backoffMs } from "./backoff.ts";
import { MissingTopicError } from "./missing_topic.ts";
import { sleep } from "./sleep.ts";

export interface OutgoingRecord {
  topic: string;
  key?: string;
  value: string | Uint8Array;
  headers?: Record<string, string>;
}

export interface IncomingRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Uint8Array | null;
  headers: Record<string, string>;
  /** Broker or producer timestamp, milliseconds since the epoch */
  timestamp: number;
}

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  fromBeginning: boolean;
  /** Called for every record in partition order; resolve once the record may be fetched past */
  onRecord(record: IncomingRecord): Promise<void>;
  sessionTimeoutMs?: number;
  /** Offsets to start from, per partition, overriding the group's committed ones */
  seekTo?: { topic: string; partition: number; offset: string }[];
  /** Told when the consumer crashed for good and is being created again (attempt 1, 2...) */
  onCrash?(error: unknown, attempt: number): void;
}

export interface Subscription {
  /** Commits `nextOffset` (the next record to read) for a partition of the group */
  commit(topic: string, partition: number, nextOffset: string): Promise<void>;
  stop(): Promise<void>;
}

export interface Bus {
  /** Rejects with a `MissingTopicError` when a record's topic does not exist */
  send(records: OutgoingRecord[]): Promise<void>;
  topicExists(topic: string): Promise<boolean>;
  /** Rejects with a `MissingTopicError` naming the first of `topics` the broker does not have */
  requireTopics(topics: readonly string[]): Promise<void>;
  /** Rejects with a `MissingTopicError` before subscribing when a topic does not exist */
  consume(options: ConsumeOptions): Promise<Subscription>;
  /** The next offset to be written, per partition of a topic */
  highWatermarks(topic: string): Promise<{ partition: number; offset: string }[]>;
  /** The offsets a group has committed on a topic, per partition (null where none) */
  committedOffsets(
    groupId: string,
    topic: string,
  ): Promise<{ partition: number; offset: string | null }[]>;
  /** Deletes a consumer group that has no members (best effort) */
  deleteGroup(groupId: string): Promise<void>;
  /** Creates the topics that do not exist yet */
  createTopics(topics: string[], partitions: number): Promise<void>;
  deleteTopics(topics: string[]): Promise<void>;
  close(): Promise<void>;
}

silenceKafkaJsTimeoutWarnings();

export class KafkaBus implements Bus {
  readonly #kafka: Kafka;
  #producer: Producer | undefined;
  #admin: Admin | undefined;
  readonly #consumers = new Set<Consumer>();
  readonly #knownTopics = new Set<string>();
  readonly #brokers: readonly string[];

  constructor(brokers: string[], readonly clientId: string) {
    this.#brokers = [...brokers];
    this.#kafka = new Kafka({
      clientId,
      brokers,
      logLevel: logLevel.WARN,
      logCreator: jsonLogCreator(clientId),
      // Back-off capped at 5 s: after a broker restart every client is back within seconds, not
      // after kafkajs's default 30 s steps
      retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 5_000 },
    });
  }

  async #getProducer(): Promise<Producer> {
    if (this.#producer === undefined) {
      const producer = this.#kafka.producer({
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      this.#producer = producer;
    }
    return this.#producer;
  }

  async #getAdmin(): Promise<Admin> {
    if (this.#admin === undefined) {
      const admin = this.#kafka.admin();
      await admin.connect();
      this.#admin = admin;
    }
    return this.#admin;
  }

  async send(records: OutgoingRecord[]): Promise<void> {
    const byTopic = new Map<string, OutgoingRecord[]>();
    for (const r of records) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
    // asked first (once per topic that exists): kafkajs would retry a missing one for half a
    // minute, logging an error at each metadata request, before failing without naming it
    await this.requireTopics([...byTopic.keys()]);
    const producer = await this.#getProducer();
    try {
      await this.#sendBatch(producer, byTopic);
    } catch (error) {
      // a topic deleted since it was known: kafkajs says "does not host this topic-partition" for
      // it and for one whose leader moves, and the broker's topic list tells them apart (when it
      // cannot, the send's own error stands)
      const missing = await this.#missingTopics([...byTopic.keys()]).catch(() => []);
      if (missing[0] !== undefined) {
        throw new MissingTopicError(missing[0], this.#brokers, { cause: error });
      }
      throw error;
    }
  }

  async #sendBatch(producer: Producer, byTopic: Map<string, OutgoingRecord[]>): Promise<void> {
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, rs]) => ({
        topic,
        messages: rs.map((r) => ({
          key: r.key ?? null,
          value: typeof r.value === "string" ? r.value : Buffer.from(r.value),
          headers: r.headers ?? {},
        })),
      })),
    });
  }

  async topicExists(topic: string): Promise<boolean> {
    if (this.#knownTopics.has(topic)) return true;
    const topics = await (await this.#getAdmin()).listTopics();
    for (const t of topics) this.#knownTopics.add(t);
    return this.#knownTopics.has(topic);
  }

  async requireTopics(topics: readonly string[]): Promise<void> {
    for (const topic of topics) {
      if (!await this.topicExists(topic)) throw new MissingTopicError(topic, this.#brokers);
    }
  }

  /** Those of `topics` the broker does not have now (the known ones are asked about again) */
  async #missingTopics(topics: readonly string[]): Promise<string[]> {
    const present = new Set(await (await this.#getAdmin()).listTopics());
    for (const topic of topics) if (!present.has(topic)) this.#knownTopics.delete(topic);
    for (const topic of present) this.#knownTopics.add(topic);
    return topics.filter((topic) => !present.has(topic));
  }

  /**
   * Consumes with manual commits. kafkajs restarts a consumer that crashed on a retriable error,
   * but one that crashed on any other (a group error while the broker restarts, say) stays down
   * for good while the process runs on: here it is created again, after a back-off, as often as
   * needed, and `onCrash` hears about each time.
   */
  async consume(options: ConsumeOptions): Promise<Subscription> {
    // kafkajs would only fail deep in its subscribe, with a message that names no topic
    await this.requireTopics(options.topics);
    let stopped = false;
    let attempt = 0;
    const revive = async (error: unknown): Promise<void> => {
      while (!stopped) {
        attempt++;
        options.onCrash?.(error, attempt);
        await sleep(backoffMs(attempt, 500, 10_000));
        if (stopped) return;
        try {
          this.#consumers.delete(current);
          // the crashed consumer may be disconnected already: a new one replaces it either way
          await current.disconnect().catch(() => {});
          current = await this.#startConsumer({ ...options, seekTo: [] }, revive);
          attempt = 0;
          return;
        } catch (err) {
          error = err;
        }
      }
    };
    let current = await this.#startConsumer(options, revive);
    return {
      commit: (topic, partition, nextOffset) =>
        current.commitOffsets([{ topic, partition, offset: nextOffset }]),
      stop: async () => {
        stopped = true;
        this.#consumers.delete(current);
        await current.disconnect();
      },
    };
  }

  async #startConsumer(
    options: ConsumeOptions,
    revive: (error: unknown) => Promise<void>,
  ): Promise<Consumer> {
    const session = options.sessionTimeoutMs ?? 10_000;
    const consumer = this.#kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: session,
      rebalanceTimeout: session,
      heartbeatInterval: Math.max(500, Math.floor(session / 10)),
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
      retry: {
        initialRetryTime: 300,
        retries: 10,
        maxRetryTime: 5_000,
        restartOnFailure: () => Promise.resolve(true),
      },
    });
    this.#consumers.add(consumer);
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) void revive(event.payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) {
          const text = headerText(v);
          if (text !== undefined) headers[k] = text;
        }
        await options.onRecord({
          topic,
          partition,
          offset: message.offset,
          key: message.key === null ? null : message.key.toString("utf8"),
          value: message.value === null ? null : new Uint8Array(message.value),
          headers,
          timestamp: Number(message.timestamp),
        });
      },
    });
    for (const s of options.seekTo ?? []) consumer.seek(s);
    return consumer;
  }

  async highWatermarks(topic: string): Promise<{ partition: number; offset: string }[]> {
    const offsets = await (await this.#getAdmin()).fetchTopicOffsets(topic);
    return offsets.map((o) => ({ partition: o.partition, offset: o.high }));
  }

  async committedOffsets(
    groupId: string,
    topic: string,
  ): Promise<{ partition: number; offset: string | null }[]> {
    const [offsets] = await (await this.#getAdmin()).fetchOffsets({ groupId, topics: [topic] });
    return (offsets?.partitions ?? []).map((p) => ({
      partition: p.partition,
      offset: p.offset === "-1" ? null : p.offset,
    }));
  }

  async deleteGroup(groupId: string): Promise<void> {
    // a group already gone or still in use stays: the broker expires empty groups by itself
    await (await this.#getAdmin()).deleteGroups([groupId]).catch(() => {});
  }

  async createTopics(topics: string[], partitions: number): Promise<void> {
    await createMissingTopics(await this.#getAdmin(), topics, partitions);
    for (const t of topics) this.#knownTopics.add(t);
  }

  async deleteTopics(topics: string[]): Promise<void> {
    await (await this.#getAdmin()).deleteTopics({ topics, timeout: 10_000 });
    for (const t of topics) this.#knownTopics.delete(t);
  }

  async close(): Promise<void> {
    await disconnectAll([...this.#consumers, this.#producer, this.#admin]);
    this.#consumers.clear();
    this.#producer = undefined;
    this.#admin = undefined;
  }
}
