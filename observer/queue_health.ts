/**
 * Polls every agent queue and each consumer group reading it every OBSERVER_QUEUE_POLL_MS: per
 * partition the high watermark, committed offset and lag, the group's state and members, and the
 * Burrow-style status over the window (see `lag_status.ts`). Records one `queue_sample` per queue
 * and group per poll (a series: `queue_series.ts`), and `queue_status_changed` when a series'
 * status changes.
 *
 * Which groups read a queue is the broker's answer, never a naming convention: every
 * OBSERVER_GROUP_REFRESH_MS the broker is asked (`groupsReading`: the groups whose members are
 * assigned the topic, or that committed offsets on it; the observer's own group left out), and the
 * groups OBSERVER_GROUPS declares for the agent are added. Each sample says where its group came
 * from (`group_source`) and lists every group read for the queue at that poll (`topic_groups`).
 * A queue no group reads gets one sample with group "" (`group_source` "none"): lag is every
 * message in it. That verdict is never drawn from an old answer: while a queue has no reader the
 * broker is asked again at every poll.
 *
 * - The broker not answering at all is recorded too: every series known gets an ERR sample (its
 *   last known offsets, reason "cannot reach the broker"), so an outage is in the history, not a
 *   gap. A discovery that fails when one succeeded before samples the groups it found then.
 * - A retriable error reading one group (kafkajs `retriable`, such as "This is not the correct
 *   coordinator for this group" while groups start) skips up to RETRIABLE_SKIPS samples of it
 *   before it is recorded as ERR.
 * - The user inbox gets no sample: it is read by short-lived `submit` groups, not by an agent, so
 *   a group status would only be noise. Its high watermarks still count for the observer's own lag.
 */

import { agentOfTopic, type TopicPattern } from "@mat/agents/protocol";
import type {
  GroupDescription,
  ObserverKafka,
  PartitionRange,
  TopicReader,
} from "./kafka_adapter.ts";
import type { EventRecorder } from "./event_recorder.ts";
import { evaluateWindow, lagOf, type PartitionPoint, type StatusVerdict } from "./lag_status.ts";
import type { GroupSource, QueueStatus } from "./record_format.ts";
import { queueKey } from "./queue_series.ts";
import { errorText } from "@mat/agents/support";

/** Samples of one group skipped in a row on retriable errors before it is recorded as ERR */
export const RETRIABLE_SKIPS = 3;

/** Whether an error says it is worth retrying (kafkajs sets `retriable` on its errors) */
function isRetriable(err: unknown): boolean {
  return typeof err === "object" && err !== null && "retriable" in err && err.retriable === true;
}

export interface QueueHealthOptions {
  kafka: ObserverKafka;
  recorder: EventRecorder;
  /** Which topics are agent queues */
  topics: TopicPattern;
  /** The requester's inbox: no agent's queue, no status */
  userInbox: string;
  windowSize: number;
  pollMs: number;
  /** How often the broker is asked which groups read the queues (OBSERVER_GROUP_REFRESH_MS) */
  groupRefreshMs: number;
  /** The observer's own group (OBSERVER_GROUP): it reads every queue but is no agent's reader */
  ownGroup: string;
  /** Groups declared per agent (OBSERVER_GROUPS), sampled whether or not the broker knows them */
  declaredGroups: ReadonlyMap<string, readonly string[]>;
}

/** A group sampled on a queue: what the last discovery said of it, and whether it is declared */
interface Reader {
  group: string;
  found: TopicReader | undefined;
  declared: boolean;
}

/** The one series of a queue that no group reads */
const NO_READER: Reader = { group: "", found: undefined, declared: false };

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then((value) => ({ ok: true, value }), (error: unknown) => ({ ok: false, error }));
}

/** Where a sampled group came from: the broker's answer at this poll first, then the last one */
function sourceOf(
  reader: Reader,
  topic: string,
  description: GroupDescription | undefined,
  committed: { offset: string | null }[],
): GroupSource {
  if (reader.group === "") return "none";
  if (description?.assigned.includes(topic)) return "broker-members";
  if (committed.some((c) => c.offset !== null)) return "broker-offsets";
  if (reader.declared) return "declared";
  return reader.found?.assigned ? "broker-members" : "broker-offsets";
}

export class QueueHealth {
  readonly #o: QueueHealthOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: () => void = () => {};
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** High watermarks of the last poll, per `topic:partition` (for the observer's own lag) */
  readonly highs = new Map<string, bigint>();
  lastError: string | undefined;
  /** The last answer of the broker on which groups read the queues, and when it was given */
  discovery:
    | {
      at: number;
      ms: number;
      groups: number;
      undecodable: number;
      readers: Map<string, TopicReader[]>;
    }
    | undefined;
  /** Why the last discovery failed, while the one before is used */
  discoveryError: string | undefined;
  #discoverySkips = 0;
  /** Consecutive samples skipped per series on a retriable error */
  readonly #skipped = new Map<string, number>();

  constructor(options: QueueHealthOptions) {
    this.#o = options;
  }

  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        await this.pollOnce().catch((err) => {
          this.lastError = errorText(err);
        });
        if (this.#stopped) break;
        await new Promise<void>((r) => {
          this.#wake = r;
          this.#timer = setTimeout(r, this.#o.pollMs);
        });
      }
    })();
  }

  async pollOnce(): Promise<void> {
    const { kafka } = this.#o;
    let listed: string[];
    try {
      listed = await kafka.listTopics();
    } catch (err) {
      this.#unreachable(`cannot reach the broker: ${errorText(err)}`);
      throw err;
    }
    this.lastError = undefined;
    const queues: { topic: string; agent: string }[] = [];
    for (const topic of listed.sort()) {
      const agent = agentOfTopic(topic, this.#o.topics);
      if (agent === undefined) continue;
      if (agent === this.#o.userInbox) {
        // The user inbox is read by short-lived `submit` groups, not by an agent: no status.
        await this.#sampleInbox(topic).catch((err) => {
          this.lastError = errorText(err);
        });
        continue;
      }
      queues.push({ topic, agent });
    }
    const readers = await this.#readers(queues);
    if (readers === undefined) return;
    // Every group read for a queue, described at once (one request per coordinator)
    const groups = [...new Set([...readers.values()].flat().map((r) => r.group))]
      .filter((g) => g !== "");
    const described = await settle(kafka.describeGroups(groups));
    for (const q of queues) {
      const read = readers.get(q.topic);
      if (read !== undefined) await this.#sampleQueue(q.topic, q.agent, read, described);
    }
  }

  /**
   * The groups to sample on each queue: the broker's last answer (asked again when it is older
   * than OBSERVER_GROUP_REFRESH_MS, when a queue is new to it, or when it found no group for a
   * queue) and the declared ones. Undefined: this poll is skipped (a retriable error while
   * nothing is known yet). A queue missing from the map is not sampled at this poll.
   */
  async #readers(
    queues: { topic: string; agent: string }[],
  ): Promise<Map<string, Reader[]> | undefined> {
    const { kafka, groupRefreshMs, ownGroup, declaredGroups } = this.#o;
    if (queues.length === 0) return new Map();
    const last = this.discovery;
    const current = last !== undefined && Date.now() - last.at < groupRefreshMs &&
      queues.every((q) => (last.readers.get(q.topic)?.length ?? 0) > 0);
    if (!current) {
      const t0 = performance.now();
      try {
        // The groups found last time are examined even if the broker does not list them now
        const known = [...new Set([...(last?.readers.values() ?? [])].flat().map((r) => r.group))];
        const found = await kafka.groupsReading(queues.map((q) => q.topic), {
          skip: (g) => g === ownGroup,
          known,
        });
        this.discovery = {
          at: Date.now(),
          ms: performance.now() - t0,
          groups: found.groups,
          undecodable: found.undecodable,
          readers: found.readers,
        };
        this.discoveryError = undefined;
        this.#discoverySkips = 0;
      } catch (err) {
        if (this.discovery === undefined) {
          // Nothing known yet of who reads the queues: a retriable error skips a poll or three
          if (isRetriable(err) && ++this.#discoverySkips <= RETRIABLE_SKIPS) return undefined;
          this.#unreachable(`cannot list the consumer groups: ${errorText(err)}`);
          throw err;
        }
        // The groups found last time are sampled; the next poll asks again
        this.discoveryError = errorText(err);
      }
    }
    const known = this.discovery?.readers ?? new Map<string, TopicReader[]>();
    const out = new Map<string, Reader[]>();
    for (const { topic, agent } of queues) {
      const found = known.get(topic);
      // A queue the broker's answer does not cover yet (a failed discovery) waits for the next
      if (found === undefined) continue;
      const declared = declaredGroups.get(agent) ?? [];
      const readers: Reader[] = found.map((r) => ({
        group: r.group,
        found: r,
        declared: declared.includes(r.group),
      }));
      for (const group of declared) {
        if (!readers.some((r) => r.group === group)) {
          readers.push({ group, found: undefined, declared: true });
        }
      }
      out.set(topic, readers.sort((a, b) => a.group.localeCompare(b.group)));
    }
    return out;
  }

  /** Samples one queue: one series per group reading it, or the one series of an unread queue */
  async #sampleQueue(
    topic: string,
    agent: string,
    readers: Reader[],
    described: Settled<Map<string, GroupDescription>>,
  ): Promise<void> {
    const { kafka, recorder } = this.#o;
    const series = readers.length > 0 ? readers : [NO_READER];
    const topicGroups = readers.map((r) => r.group);
    const [ranges, offsets] = await Promise.all([
      settle(kafka.topicRanges(topic)),
      Promise.all(
        series.map((r) =>
          settle(r.group === "" ? Promise.resolve([]) : kafka.groupOffsets(r.group, topic))
        ),
      ),
    ]);
    if (ranges.ok) {
      for (const r of ranges.value) this.highs.set(`${topic}:${r.partition}`, BigInt(r.high));
    }
    for (const [i, reader] of series.entries()) {
      const group = reader.group;
      const key = queueKey({ agent, group });
      const previous = recorder.state.queues.get(key);
      let verdict: StatusVerdict;
      let partitions: PartitionPoint[] = [];
      let groupState = group === "" ? "" : "Unknown";
      let members: { member_id: string; client_id: string; host: string }[] = [];
      let source: GroupSource = group === ""
        ? "none"
        : reader.declared && reader.found === undefined
        ? "declared"
        : reader.found?.assigned
        ? "broker-members"
        : "broker-offsets";
      try {
        const committed = offsets[i];
        if (!ranges.ok) throw ranges.error;
        if (!committed?.ok) throw committed?.error;
        if (!described.ok) throw described.error;
        const description = group === "" ? undefined : described.value.get(group);
        partitions = pointsOf(ranges.value, committed.value);
        source = sourceOf(reader, topic, description, committed.value);
        groupState = description?.state ?? groupState;
        members = description?.members ?? [];
        const window = [...(previous?.window ?? []), { at: new Date().toISOString(), partitions }]
          .slice(-this.#o.windowSize);
        verdict = evaluateWindow(window, members.length, this.#o.windowSize, group === "");
      } catch (err) {
        // A retriable error (a coordinator moving while groups start) skips a sample or three.
        const skipped = (this.#skipped.get(key) ?? 0) + 1;
        if (isRetriable(err) && skipped <= RETRIABLE_SKIPS) {
          this.#skipped.set(key, skipped);
          continue;
        }
        const what = group === "" ? "the topic" : "group";
        verdict = { status: "ERR", reason: `cannot read ${what}: ${errorText(err)}` };
      }
      this.#skipped.delete(key);
      this.#record({
        agent,
        topic,
        group,
        groupState,
        members,
        partitions,
        verdict,
        source,
        topicGroups,
        from: previous?.status ?? null,
      });
    }
  }

  /** Records one sample, and the change of its series' status */
  #record(s: {
    agent: string;
    topic: string;
    group: string;
    groupState: string;
    members: { member_id: string; client_id: string; host: string }[];
    partitions: PartitionPoint[];
    verdict: StatusVerdict;
    source: GroupSource | undefined;
    topicGroups: string[];
    from: QueueStatus | null;
  }): void {
    const source = s.source === undefined ? {} : { group_source: s.source };
    this.#o.recorder.record({
      type: "queue_sample",
      agent: s.agent,
      topic: s.topic,
      group: s.group,
      group_state: s.groupState,
      members: s.members,
      partitions: s.partitions,
      lag: s.partitions.reduce((sum, p) => sum + p.lag, 0),
      status: s.verdict.status,
      status_reason: s.verdict.reason,
      ...source,
      topic_groups: s.topicGroups,
    });
    if (s.from !== s.verdict.status) {
      this.#o.recorder.record({
        type: "queue_status_changed",
        agent: s.agent,
        group: s.group,
        from: s.from,
        to: s.verdict.status,
        reason: s.verdict.reason,
        ...source,
      });
    }
  }

  /**
   * The broker did not answer: every series known is recorded as ERR with its last known
   * partitions, so the outage is in the history (not merely a gap in it)
   */
  #unreachable(reason: string): void {
    const state = this.#o.recorder.state;
    for (const q of [...state.queues.values()]) {
      if (q.agent === this.#o.userInbox) continue;
      this.#record({
        agent: q.agent,
        topic: q.topic,
        group: q.group,
        groupState: "Unknown",
        members: [],
        partitions: q.partitions,
        verdict: { status: "ERR", reason },
        source: q.group_source,
        topicGroups: state.queuesOf(q.agent).map((x) => x.group).filter((g) => g !== ""),
        from: q.status,
      });
    }
  }

  /** The user inbox's depth (its high watermarks), for the observer's own lag */
  async #sampleInbox(topic: string): Promise<void> {
    for (const r of await this.#o.kafka.topicRanges(topic)) {
      this.highs.set(`${topic}:${r.partition}`, BigInt(r.high));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake();
    await this.#loop;
  }
}

/** A queue's partitions as one group has read them (committed null: it has committed none) */
function pointsOf(
  ranges: PartitionRange[],
  committed: { partition: number; offset: string | null }[],
): PartitionPoint[] {
  return ranges.map((r) => {
    const c = committed.find((x) => x.partition === r.partition)?.offset ?? null;
    return { partition: r.partition, high: r.high, committed: c, lag: lagOf(r.high, c, r.low) };
  });
}
