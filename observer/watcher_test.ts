import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope } from "@mat/agents";
import { KafkaAdapter, type PartitionRange } from "./kafka_adapter.ts";
import { Observer } from "./observer.ts";
import { TestBed, waitFor } from "./testing.ts";

function heartbeats(n: number, from: number): { key: string; value: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `k${from + i}`,
    value: encodeEnvelope(createEnvelope({
      type: "HEARTBEAT",
      source: "writer",
      target: "coder",
      conversation_id: "c1",
      task_id: `t${from + i}`,
      payload: { n: from + i },
    })),
  }));
}

/**
 * The real adapter, whose answers about a topic's ends come late: each is true when the broker
 * gives it, and by the time the watcher reads it the feed has read past it (a busy topic, a
 * slow admin request)
 */
class LateEnds extends KafkaAdapter {
  /** Called between the broker's answer and its delivery */
  meanwhile: (ranges: PartitionRange[]) => Promise<void> = () => Promise.resolve();
  override async topicRanges(topic: string): Promise<PartitionRange[]> {
    const ranges = await super.topicRanges(topic);
    await this.meanwhile(ranges);
    return ranges;
  }
}

Deno.test("a busy topic whose end the feed read past while it was asked for is no recreated topic", async () => {
  const bed = await TestBed.create(["coder"], 1);
  const config = bed.config();
  const kafka = new LateEnds({ brokers: config.brokers, clientId: "late-ends", log: "nothing" });
  const observer = await Observer.open(config, kafka);
  const topic = bed.topic("coder");
  let sent = 0;
  const send = async (n: number) => {
    await bed.kit.send(topic, heartbeats(n, sent));
    sent += n;
  };
  try {
    await send(20);
    observer.start();
    await waitFor(() => observer.watcher.messagesIngested >= 20, 30_000, "the first 20 read");
    // Each answer about the ends, from now on: records come after it, and are read before it
    // is delivered (the position is past the end it gives)
    let late = 0;
    kafka.meanwhile = async (ranges) => {
      if (late >= 3) return;
      const high = BigInt(ranges[0]?.high ?? "0");
      await send(5);
      await waitFor(
        () => BigInt(observer.recorder.state.position(topic, 0)?.offset ?? "-1") >= high,
        30_000,
        "the feed past the end answered",
      );
      late++;
    };
    await waitFor(() => late >= 3, 60_000, "three late answers");
    await send(5);
    await waitFor(() => observer.watcher.messagesIngested >= sent, 30_000, "every record read");
    await observer.stop();
    const records = await bed.diff();
    assert.deepEqual(records.filter((r) => r.type === "topic_reset"), [], "no topic reset");
    const offsets = records.flatMap((r) => r.type === "message" ? [r.offset] : []);
    assert.equal(offsets.length, sent, "each record once");
    assert.equal(new Set(offsets).size, sent);
  } finally {
    await observer.stop().catch(() => {});
    await kafka.close();
    await bed.close();
  }
});
