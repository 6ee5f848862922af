/**
 * Polls every agent queue and its consumer group (`groupFor(agent)`) every OBSERVER_QUEUE_POLL_MS:
 * per partition the high watermark, committed offset and lag, the group's state and members, and
 * the Burrow-style status over the window (see `lag_status.ts`). Records one `queue_sample` per
 * group per poll, and `queue_status_changed` when the status changes.
 *
 * - The broker not answering at all is recorded too: every queue known gets an ERR sample (its last
 *   known offsets, reason "cannot reach the broker"), so an outage is in the history, not a gap.
 * - A retriable error reading one group (kafkajs `retriable`, such as "This is not the correct
 *   coordinator for this group" while groups start) skips up to RETRIABLE_SKIPS samples of it
 *   before it is recorded as ERR.
 * - The user inbox gets no sample: it is read by short-lived `submit` groups, not by an agent, so
 *   a group status would only be noise. Its high watermarks still count for the observer's own lag.
 */

import { agentOfTopic, groupFor, type TopicPattern } from "@mat/agents/protocol";
import type { ObserverKafka } from "./kafka_adapter.ts";
import type { EventRecorder } from "./event_recorder.ts";
import { evaluateWindow, lagOf, type PartitionPoint, type StatusVerdict } from "./lag_status.ts";
import type { QueueStatus } from "./record_format.ts";
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
  prefix: string;
  /** Which topics are agent queues */
  topics: TopicPattern;
  /** The requester's inbox: no agent's queue, no status */
  userInbox: string;
  windowSize: number;
  pollMs: number;
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
  /** Consecutive samples skipped per agent on a retriable error */
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
    const { kafka, recorder, prefix, topics: pattern, userInbox } = this.#o;
    let listed: string[];
    try {
      listed = await kafka.listTopics();
    } catch (err) {
      this.#unreachable(err);
      throw err;
    }
    const topics = listed.filter((t) => agentOfTopic(t, pattern) !== undefined);
    this.lastError = undefined;
    for (const topic of topics.sort()) {
      const agent = agentOfTopic(topic, pattern);
      if (agent === undefined) continue;
      const group = groupFor(agent, prefix);
      const previous = recorder.state.queues.get(agent);
      if (agent === userInbox) {
        // The user inbox is read by short-lived `submit` groups, not by an agent: no status.
        await this.#sampleInbox(topic).catch((err) => {
          this.lastError = errorText(err);
        });
        continue;
      }
      let verdict: StatusVerdict;
      let partitions: PartitionPoint[] = [];
      let groupState = "Unknown";
      let members: { member_id: string; client_id: string; host: string }[] = [];
      try {
        const [ranges, committed, description] = await Promise.all([
          kafka.topicRanges(topic),
          kafka.groupOffsets(group, topic),
          kafka.describeGroup(group),
        ]);
        partitions = ranges.map((r) => {
          const c = committed.find((x) => x.partition === r.partition)?.offset ?? null;
          this.highs.set(`${topic}:${r.partition}`, BigInt(r.high));
          return {
            partition: r.partition,
            high: r.high,
            committed: c,
            lag: lagOf(r.high, c, r.low),
          };
        });
        groupState = description.state;
        members = description.members;
        const window = [...(previous?.window ?? []), { at: new Date().toISOString(), partitions }]
          .slice(-this.#o.windowSize);
        verdict = evaluateWindow(window, members.length, this.#o.windowSize);
      } catch (err) {
        // A retriable error (a coordinator moving while groups start) skips a sample or three.
        const skipped = (this.#skipped.get(agent) ?? 0) + 1;
        if (isRetriable(err) && skipped <= RETRIABLE_SKIPS) {
          this.#skipped.set(agent, skipped);
          continue;
        }
        verdict = {
          status: "ERR",
          reason: `cannot read group: ${errorText(err)}`,
        };
      }
      this.#skipped.delete(agent);
      const from: QueueStatus | null = previous?.status ?? null;
      recorder.record({
        type: "queue_sample",
        agent,
        topic,
        group,
        group_state: groupState,
        members,
        partitions,
        lag: partitions.reduce((sum, p) => sum + p.lag, 0),
        status: verdict.status,
        status_reason: verdict.reason,
      });
      if (from !== verdict.status) {
        recorder.record({
          type: "queue_status_changed",
          agent,
          group,
          from,
          to: verdict.status,
          reason: verdict.reason,
        });
      }
    }
  }

  /**
   * The broker did not answer at all: every queue known is recorded as ERR with its last known
   * partitions, so the outage is in the history (not merely a gap in it)
   */
  #unreachable(err: unknown): void {
    const reason = `cannot reach the broker: ${errorText(err)}`;
    for (const q of this.#o.recorder.state.queues.values()) {
      if (q.agent === this.#o.userInbox) continue;
      this.#o.recorder.record({
        type: "queue_sample",
        agent: q.agent,
        topic: q.topic,
        group: q.group,
        group_state: "Unknown",
        members: [],
        partitions: q.partitions,
        lag: q.lag,
        status: "ERR",
        status_reason: reason,
      });
      if (q.status !== "ERR") {
        this.#o.recorder.record({
          type: "queue_status_changed",
          agent: q.agent,
          group: q.group,
          from: q.status,
          to: "ERR",
          reason,
        });
      }
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
