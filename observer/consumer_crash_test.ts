import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope } from "@mat/agents";
import { type Feed, type FeedOptions, KafkaAdapter } from "./kafka_adapter.ts";
import { createApp } from "./http_api.ts";
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
 * The real adapter, whose first feed meets a bug once armed: a TypeError out of its batch
 * handler, on which kafkajs stops the consumer for good (it restarts from retriable errors only)
 */
class BuggyOnce extends KafkaAdapter {
  armed = false;
  #thrown = false;
  override feed(options: FeedOptions): Promise<Feed> {
    return super.feed({
      ...options,
      onBatch: (records) => {
        if (this.armed && !this.#thrown) {
          this.#thrown = true;
          throw new TypeError("a bug in the fold");
        }
        return options.onBatch(records);
      },
    });
  }
}

Deno.test({
  name:
    "a consumer kafkajs gives up on is created again: recorded, 503 meanwhile, nothing lost or doubled",
  fn: async () => {
    const bed = await TestBed.create(["coder"], 2);
    const config = bed.config();
    const kafka = new BuggyOnce({ brokers: config.brokers, clientId: "buggy", log: "nothing" });
    const observer = await Observer.open(config, kafka);
    const app = createApp(observer, () => {});
    const topic = bed.topic("coder");
    try {
      await bed.kit.send(topic, heartbeats(50, 0));
      observer.start();
      await waitFor(() => observer.watcher.messagesIngested >= 50, 30_000, "the first 50 read");
      kafka.armed = true;
      await bed.kit.send(topic, heartbeats(50, 50));
      await waitFor(() => observer.watcher.consumerCrashes === 1, 30_000, "the crash seen");
      await bed.kit.send(topic, heartbeats(50, 100));
      await waitFor(() => observer.watcher.messagesIngested >= 150, 60_000, "all 150 read");
      assert.equal((await app.request("/health")).status, 200, "healthy once it reads again");
      await observer.stop();
      const records = await bed.diff();
      const offsets = records.flatMap((r) =>
        r.type === "message" ? [`${r.partition}:${r.offset}`] : []
      );
      assert.equal(offsets.length, 150, "each record once");
      assert.equal(new Set(offsets).size, 150, "none twice");
      const restarted = records.filter((r) => r.type === "consumer_restarted");
      assert.equal(restarted.length, 1);
      assert.match(JSON.stringify(restarted[0]), /a bug in the fold/);
    } finally {
      await observer.stop().catch(() => {});
      await kafka.close();
      await bed.close();
    }
  },
  sanitizeOps: false,
  sanitizeResources: false,
});

Deno.test("health names a consumer that crashed until it is created again", async () => {
  const bed = await TestBed.create([], 1, { waitForBroker: false });
  const config = bed.config();
  const kafka = new KafkaAdapter({ brokers: config.brokers, clientId: "h", log: "nothing" });
  const observer = await Observer.open(config, kafka);
  try {
    observer.watcher.consumerCrash = "a bug in the fold";
    const body = await (await createApp(observer, () => {}).request("/health")).json();
    assert.ok(
      body.reasons.some((r: string) => r.includes("The consumer crashed") && r.includes("a bug")),
      JSON.stringify(body),
    );
  } finally {
    await observer.stop();
    await kafka.close();
    await bed.close();
  }
});
