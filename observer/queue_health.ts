/**
 * Polls every agent queue and its consumer group (`groupFor(agent)`) every OBSERVER_QUEUE_POLL_MS:
 * per partition the high watermark, committed offset and lag, the group's state and members, and
 * the Burrow-style status over the window (see `lag_status.ts`). Records one `queue_sample` per
 * group per poll, and `queue_status_changed` when the status changes.
 */

import { agentOfTopic, groupFor } from "@mat/agents/protocol";
import type { ObserverKafka } from "./kafka_adapter.ts";
import type { EventRecorder } from "./event_recorder.ts";
import { evaluateWindow, lagOf, type PartitionPoint, type StatusVerdict } from "./lag_status.ts";
import type { QueueStatus } from "./record_format.ts";

export interface QueueHealthOptions {
  kafka: ObserverKafka;
  recorder: EventRecorder;
  prefix: string;
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

  constructor(options: QueueHealthOptions) {
    this.#o = options;
  }

  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        await this.pollOnce().catch((err) => {
          this.lastError = err instanceof Error ? err.message : String(err);
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
    const { kafka, recorder, prefix } = this.#o;
    const topics = (await kafka.listTopics()).filter((t) => agentOfTopic(t, prefix) !== undefined);
    this.lastError = undefined;
    for (const topic of topics.sort()) {
      const agent = agentOfTopic(topic, prefix);
      if (agent === undefined) continue;
      const group = groupFor(agent, prefix);
      const previous = recorder.state.queues.get(agent);
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
        verdict = {
          status: "ERR",
          reason: `cannot read group: ${err instanceof Error ? err.message : String(err)}`,
        };
      }
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

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake();
    await this.#loop;
  }
}
