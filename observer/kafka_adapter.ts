/**
 * The only file of `observer` that imports kafkajs. The observer sees `ObserverKafka`: list the
 * topics, read offsets and group descriptions, ask the broker which groups read a topic, and a
 * `Feed` of record batches from explicit start positions. Tests and the benchmark also use
 * `KafkaTestKit` (topics, producing, group offsets).
 */

import { Buffer } from "node:buffer";
import {
  type Admin,
  AssignerProtocol,
  type Consumer,
  Kafka,
  logLevel,
  type Producer,
} from "kafkajs";
import type { IncomingRecord } from "@mat/agents";
import {
  disconnectAll,
  headerText,
  jsonLogCreator,
  silenceKafkaJsTimeoutWarnings,
} from "@mat/agents/kafkajs";

/** One record read from an agent queue: the agents' own record shape */
export type KafkaRecord = IncomingRecord;

export interface PartitionRange {
  partition: number;
  /** The first offset still in the log */
  low: string;
  /** The next offset to be written */
  high: string;
}

export interface GroupMember {
  member_id: string;
  client_id: string;
  host: string;
}

export interface GroupDescription {
  /** Kafka's group state: Stable, Empty, Dead, PreparingRebalance... */
  state: string;
  members: GroupMember[];
  /** The topics its members are assigned partitions of (their decoded assignments), sorted */
  assigned: string[];
}

/** A group the broker says reads a topic, and how it says so */
export interface TopicReader {
  group: string;
  /** Members of the group are assigned partitions of the topic (DescribeGroups) */
  assigned: boolean;
  /** The group has committed offsets on the topic (OffsetFetch for all its topics) */
  committed: boolean;
}

/**
 * Which groups a discovery examines: every group the broker lists (of the consumer protocol, or
 * that only ever committed offsets), and the `known` ones even when it does not list them (a
 * coordinator still loading its groups may leave some out), but those `skip` names. A group
 * examined reads a topic when its members are assigned it, or when it committed offsets on it.
 */
export interface DiscoveryOptions {
  skip(group: string): boolean;
  known?: readonly string[];
}

export interface GroupDiscovery {
  /** Per topic asked about, the groups the broker says read it, sorted by name ([] for none) */
  readers: Map<string, TopicReader[]>;
  /** Consumer groups examined (those skipped left out) */
  groups: number;
  /** Members whose assignment is not in the consumer protocol's format (not counted) */
  undecodable: number;
}

export interface StartPosition {
  topic: string;
  partition: number;
  /** The next offset to read */
  offset: string;
}

export interface FeedOptions {
  groupId: string;
  topics: string[];
  start: StartPosition[];
  /** Called with each batch, in partition order; the next batch waits for it */
  onBatch(records: KafkaRecord[]): Promise<void>;
  /**
   * Told when kafkajs gave up on the consumer for good (a crash it does not restart from: an error
   * it deems not retriable, a TypeError out of `onBatch`): the feed reads no more
   */
  onCrash?(error: unknown): void;
  sessionTimeoutMs?: number;
}

export interface Feed {
  /** Re-reads a partition from an offset (the current batch is then dropped) */
  seek(topic: string, partition: number, offset: string): void;
  /** Commits next offsets for the observer's own group: a hint, never the source of truth */
  commit(positions: StartPosition[]): Promise<void>;
  stop(): Promise<void>;
}

export interface ObserverKafka {
  listTopics(): Promise<string[]>;
  topicRanges(topic: string): Promise<PartitionRange[]>;
  /** Committed offsets of a group in a topic; null where it has none */
  groupOffsets(
    groupId: string,
    topic: string,
  ): Promise<{ partition: number; offset: string | null }[]>;
  describeGroup(groupId: string): Promise<GroupDescription>;
  /** Several groups described at once (one request per coordinator), by group id */
  describeGroups(groupIds: readonly string[]): Promise<Map<string, GroupDescription>>;
  /** The consumer groups reading `topics` (see `DiscoveryOptions`) */
  groupsReading(topics: readonly string[], options: DiscoveryOptions): Promise<GroupDiscovery>;
  feed(options: FeedOptions): Promise<Feed>;
  close(): Promise<void>;
}

export interface TestRecord {
  key?: string;
  value: string | Uint8Array | null;
  partition?: number;
  headers?: Record<string, string>;
}

export interface KafkaTestKit {
  createTopics(topics: string[], partitions?: number): Promise<void>;
  deleteTopics(topics: string[]): Promise<void>;
  send(topic: string, records: TestRecord[]): Promise<void>;
  /** Sets a group's committed offsets (the group must have no members) */
  setGroupOffsets(groupId: string, topic: string, offsets: StartPosition[]): Promise<void>;
  deleteGroups(groupIds: string[]): Promise<void>;
  close(): Promise<void>;
}

silenceKafkaJsTimeoutWarnings();

/** OffsetFetch requests of a discovery in flight at once */
const OFFSET_FETCHES_AT_ONCE = 16;

/** What DescribeGroups says of a group it does not know */
const DEAD_GROUP: GroupDescription = { state: "Dead", members: [], assigned: [] };

/** Whether an OffsetFetch offset is a committed one ("-1": none) */
function committedOffset(offset: string): boolean {
  return offset !== "-1" && offset !== "";
}

type KafkaJsGroup = Awaited<ReturnType<Admin["describeGroups"]>>["groups"][number];

/**
 * A group as DescribeGroups gives it, with the topics its members are assigned. A member's
 * assignment is decoded only in a group of the consumer protocol (`protocolType` "consumer"),
 * whose assignments are `ConsumerProtocolAssignment` bytes; bytes that do not decode (another
 * client's protocol under the same name) are counted, not trusted.
 */
function describedGroup(g: KafkaJsGroup): { description: GroupDescription; undecodable: number } {
  const assigned = new Set<string>();
  let undecodable = 0;
  if (g.protocolType === "consumer") {
    for (const m of g.members) {
      // An empty assignment: a member that joined and waits for its first one
      if (m.memberAssignment.length === 0) continue;
      try {
        const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) {
          if (partitions.length > 0) assigned.add(topic);
        }
      } catch {
        // bytes of another protocol: the member is still listed, its topics are not known
        undecodable++;
      }
    }
  }
  return {
    description: {
      state: g.state,
      members: g.members.map((m) => ({
        member_id: m.memberId,
        client_id: m.clientId,
        host: m.clientHost,
      })),
      assigned: [...assigned].sort(),
    },
    undecodable,
  };
}

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  /** kafkajs log level: "warn" (default), "error" or "nothing" */
  log?: "warn" | "error" | "nothing";
}

export class KafkaAdapter implements ObserverKafka, KafkaTestKit {
  readonly #kafka: Kafka;
  #admin: Admin | undefined;
  #producer: Producer | undefined;
  readonly #consumers = new Set<Consumer>();

  constructor(options: KafkaClientOptions) {
    const level = options.log === "nothing"
      ? logLevel.NOTHING
      : options.log === "error"
      ? logLevel.ERROR
      : logLevel.WARN;
    this.#kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: level,
      logCreator: jsonLogCreator(options.clientId),
      retry: { initialRetryTime: 300, retries: 5 },
      connectionTimeout: 3_000,
    });
  }

  async #getAdmin(): Promise<Admin> {
    if (this.#admin === undefined) {
      const admin = this.#kafka.admin();
      await admin.connect();
      this.#admin = admin;
    }
    return this.#admin;
  }

  async #withAdmin<T>(use: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = await this.#getAdmin();
    try {
      return await use(admin);
    } catch (err) {
      // A broken connection is rebuilt on the next call.
      if (this.#admin === admin) {
        this.#admin = undefined;
        // the connection is broken already: the next call builds a new one
        await admin.disconnect().catch(() => {});
      }
      throw err;
    }
  }

  listTopics(): Promise<string[]> {
    return this.#withAdmin((a) => a.listTopics());
  }

  topicRanges(topic: string): Promise<PartitionRange[]> {
    return this.#withAdmin(async (a) => {
      const offsets = await a.fetchTopicOffsets(topic);
      return offsets.map((o) => ({ partition: o.partition, low: o.low, high: o.high }))
        .sort((x, y) => x.partition - y.partition);
    });
  }

  groupOffsets(
    groupId: string,
    topic: string,
  ): Promise<{ partition: number; offset: string | null }[]> {
    return this.#withAdmin(async (a) => {
      const result = await a.fetchOffsets({ groupId, topics: [topic] });
      const partitions = result.find((t) => t.topic === topic)?.partitions ?? [];
      return partitions.map((p) => ({
        partition: p.partition,
        offset: committedOffset(p.offset) ? p.offset : null,
      })).sort((x, y) => x.partition - y.partition);
    });
  }

  describeGroup(groupId: string): Promise<GroupDescription> {
    return this.describeGroups([groupId]).then((d) => d.get(groupId) ?? DEAD_GROUP);
  }

  describeGroups(groupIds: readonly string[]): Promise<Map<string, GroupDescription>> {
    return this.#withAdmin(async (a) => {
      const out = new Map<string, GroupDescription>();
      if (groupIds.length === 0) return out;
      const { groups } = await a.describeGroups([...groupIds]);
      for (const g of groups) out.set(g.groupId, describedGroup(g).description);
      return out;
    });
  }

  groupsReading(topics: readonly string[], options: DiscoveryOptions): Promise<GroupDiscovery> {
    return this.#withAdmin(async (a) => {
      const wanted = new Set(topics);
      const readers = new Map<string, Map<string, TopicReader>>(topics.map((t) => [t, new Map()]));
      const note = (topic: string, group: string, how: "assigned" | "committed") => {
        const byGroup = readers.get(topic);
        if (byGroup === undefined) return;
        const r = byGroup.get(group) ?? { group, assigned: false, committed: false };
        r[how] = true;
        byGroup.set(group, r);
      };
      const { groups: listed } = await a.listGroups();
      // "consumer": the classic consumer protocol; "": a group that only ever committed offsets
      const candidates = [
        ...new Set([
          ...listed
            .filter((g) => g.protocolType === "consumer" || g.protocolType === "")
            .map((g) => g.groupId),
          ...(options.known ?? []),
        ]),
      ].filter((g) => !options.skip(g)).sort();
      let undecodable = 0;
      if (candidates.length > 0) {
        const { groups } = await a.describeGroups(candidates);
        for (const g of groups) {
          if (g.protocolType !== "consumer") continue;
          const described = describedGroup(g);
          undecodable += described.undecodable;
          for (const t of described.description.assigned) {
            if (wanted.has(t)) note(t, g.groupId, "assigned");
          }
        }
      }
      // One OffsetFetch per group (with no topics: every topic it committed on), a few at a time
      for (let i = 0; i < candidates.length; i += OFFSET_FETCHES_AT_ONCE) {
        await Promise.all(
          candidates.slice(i, i + OFFSET_FETCHES_AT_ONCE).map(async (groupId) => {
            for (const t of await a.fetchOffsets({ groupId })) {
              if (wanted.has(t.topic) && t.partitions.some((p) => committedOffset(p.offset))) {
                note(t.topic, groupId, "committed");
              }
            }
          }),
        );
      }
      return {
        readers: new Map(
          [...readers].map((
            [t, byGroup],
          ) => [t, [...byGroup.values()].sort((x, y) => x.group.localeCompare(y.group))]),
        ),
        groups: candidates.length,
        undecodable,
      };
    });
  }

  async feed(options: FeedOptions): Promise<Feed> {
    const session = options.sessionTimeoutMs ?? 10_000;
    const consumer = this.#kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: session,
      rebalanceTimeout: session,
      heartbeatInterval: Math.max(500, Math.floor(session / 10)),
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      maxBytes: 4 * 1024 * 1024,
      maxBytesPerPartition: 1024 * 1024,
      retry: { initialRetryTime: 300, retries: 10, restartOnFailure: () => Promise.resolve(true) },
    });
    this.#consumers.add(consumer);
    const seeks = new Set<string>();
    try {
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) options.onCrash?.(event.payload.error);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: options.topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (!isRunning() || isStale() || batch.messages.length === 0) return;
          const key = `${batch.topic}:${batch.partition}`;
          seeks.delete(key);
          const records: KafkaRecord[] = batch.messages.map((m) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) {
              const text = headerText(v);
              if (text !== undefined) headers[k] = text;
            }
            return {
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              key: m.key === null ? null : m.key.toString("utf8"),
              value: m.value === null
                ? null
                : new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength),
              headers,
              timestamp: Number(m.timestamp),
            };
          });
          await options.onBatch(records);
          // After a seek the batch is dropped: kafkajs fetches from the sought offset instead.
          if (!seeks.has(key)) resolveOffset(batch.lastOffset());
          await heartbeat();
        },
      });
      for (const s of options.start) consumer.seek(s);
    } catch (err) {
      this.#consumers.delete(consumer);
      // the start's error is thrown below; a consumer that never connected has nothing to close
      await consumer.disconnect().catch(() => {});
      throw err;
    }
    return {
      seek: (topic, partition, offset) => {
        seeks.add(`${topic}:${partition}`);
        consumer.seek({ topic, partition, offset });
      },
      commit: async (positions) => {
        if (positions.length > 0) await consumer.commitOffsets(positions);
      },
      stop: async () => {
        this.#consumers.delete(consumer);
        // stopping: a consumer that fails to disconnect has nothing left to read
        await consumer.disconnect().catch(() => {});
      },
    };
  }

  createTopics(topics: string[], partitions = 1): Promise<void> {
    return this.#withAdmin(async (a) => {
      await a.createTopics({
        waitForLeaders: true,
        topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
      });
    });
  }

  deleteTopics(topics: string[]): Promise<void> {
    return this.#withAdmin((a) => a.deleteTopics({ topics, timeout: 10_000 }));
  }

  async send(topic: string, records: TestRecord[]): Promise<void> {
    if (this.#producer === undefined) {
      const producer = this.#kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      this.#producer = producer;
    }
    await this.#producer.send({
      topic,
      acks: -1,
      messages: records.map((r) => ({
        key: r.key ?? null,
        value: r.value === null
          ? null
          : typeof r.value === "string"
          ? r.value
          : Buffer.from(r.value),
        headers: r.headers ?? {},
        ...(r.partition === undefined ? {} : { partition: r.partition }),
      })),
    });
  }

  /**
   * Commits offsets for a group with no members, through a short-lived member of its own that
   * leaves on disconnect. (kafkajs' `admin.setOffsets` may stop its helper member before it joined,
   * which then skips the LeaveGroup and lingers as a member for a whole session timeout.)
   */
  async setGroupOffsets(groupId: string, topic: string, offsets: StartPosition[]): Promise<void> {
    const described = await this.describeGroup(groupId);
    if (described.members.length > 0) {
      throw new Error(`Group "${groupId}" has ${described.members.length} member(s)`);
    }
    const consumer = this.#kafka.consumer({
      groupId,
      sessionTimeout: 6_000,
      heartbeatInterval: 500,
      allowAutoTopicCreation: false,
    });
    const joined = Promise.withResolvers<void>();
    consumer.on(consumer.events.GROUP_JOIN, () => joined.resolve());
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatch: () => Promise.resolve() });
      consumer.pause([{ topic }]);
      await joined.promise;
      await consumer.commitOffsets(
        offsets.map((o) => ({ topic, partition: o.partition, offset: o.offset })),
      );
    } finally {
      // the offsets are committed (or thrown): a failed disconnect leaves nothing to undo
      await consumer.disconnect().catch(() => {});
    }
  }

  deleteGroups(groupIds: string[]): Promise<void> {
    return this.#withAdmin(async (a) => {
      // a group already gone or still in use stays: the broker expires empty groups by itself
      await a.deleteGroups(groupIds).catch(() => {});
    });
  }

  async close(): Promise<void> {
    await disconnectAll([...this.#consumers, this.#producer, this.#admin]);
    this.#consumers.clear();
    this.#producer = undefined;
    this.#admin = undefined;
  }
}
