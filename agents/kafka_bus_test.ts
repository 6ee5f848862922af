import assert from "node:assert/strict";
import { KafkaBus } from "./kafka_bus.ts";
import { bootstrapServers } from "./bootstrap_servers.ts";
import { MissingTopicError } from "./missing_topic.ts";

/** An assertion that an error is a `MissingTopicError` for `topic` on this test's brokers */
function missing(topic: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof MissingTopicError, `expected a MissingTopicError, got ${error}`);
    assert.equal(error.topic, topic);
    assert.deepEqual(error.brokers, bootstrapServers());
    return true;
  };
}

Deno.test({
  name: "a consumer that kafkajs gives up on is created again and reads on",
  fn: async () => {
    const topic = `t${crypto.randomUUID().slice(0, 8)}-bus-revive`;
    const bus = new KafkaBus(bootstrapServers(), `test-${topic}`);
    try {
      await bus.createTopics([topic], 1);
      await bus.send([{ topic, value: "first" }, { topic, value: "second" }]);
      const seen: string[] = [];
      const crashes: number[] = [];
      const both = Promise.withResolvers<void>();
      const sub = await bus.consume({
        groupId: `${topic}-group`,
        topics: [topic],
        fromBeginning: true,
        sessionTimeoutMs: 6_000,
        onCrash: (_error, attempt) => crashes.push(attempt),
        onRecord: async (record) => {
          const value = new TextDecoder().decode(record.value ?? new Uint8Array());
          seen.push(value);
          // kafkajs stops a consumer for good on a TypeError from its handler
          if (seen.length === 1) throw new TypeError("a bug in the handler");
          await sub.commit(record.topic, record.partition, String(Number(record.offset) + 1));
          if (value === "second") both.resolve();
        },
      });
      const timeout = setTimeout(() => both.reject(new Error(`only saw ${seen}`)), 60_000);
      await both.promise.finally(() => clearTimeout(timeout));
      assert.deepEqual(crashes, [1], "one crash, one revival");
      assert.deepEqual(seen, ["first", "first", "second"], "the failed record is read again");
      await sub.stop();
    } finally {
      await bus.deleteTopics([topic]).catch(() => {});
      await bus.close();
    }
  },
});

Deno.test("consuming a topic the broker does not have is refused before subscribing, naming it", async () => {
  const topic = `t${crypto.randomUUID().slice(0, 8)}-bus-absent`;
  const bus = new KafkaBus(bootstrapServers(), `test-${topic}`);
  try {
    await assert.rejects(
      bus.consume({
        groupId: `${topic}-group`,
        topics: [topic],
        fromBeginning: true,
        onRecord: () => Promise.resolve(),
      }),
      missing(topic),
    );
    await assert.rejects(bus.requireTopics([topic]), missing(topic));
  } finally {
    await bus.close();
  }
});

Deno.test({
  name: "a send to a topic the broker does not have names it, and sends to others go on",
  fn: async () => {
    const topic = `t${crypto.randomUUID().slice(0, 8)}-bus-send`;
    const bus = new KafkaBus(bootstrapServers(), `test-${topic}`);
    try {
      await bus.createTopics([topic], 1);
      const absent = `${topic}-absent`;
      await assert.rejects(bus.send([{ topic: absent, value: "lost" }]), missing(absent));
      await bus.send([{ topic, value: "delivered" }]);
      const [end] = await bus.highWatermarks(topic);
      assert.equal(end?.offset, "1");
    } finally {
      await bus.deleteTopics([topic]).catch(() => {});
      await bus.close();
    }
  },
});

Deno.test({
  name: "a send to a topic deleted since the bus knew it names the topic once kafkajs gives up",
  fn: async () => {
    const topic = `t${crypto.randomUUID().slice(0, 8)}-bus-deleted`;
    const bus = new KafkaBus(bootstrapServers(), `test-${topic}`);
    const other = new KafkaBus(bootstrapServers(), `test-${topic}-other`);
    try {
      await bus.createTopics([topic], 1);
      await bus.send([{ topic, value: "delivered" }]);
      await other.deleteTopics([topic]);
      await assert.rejects(bus.send([{ topic, value: "lost" }]), missing(topic));
    } finally {
      await other.close();
      await bus.deleteTopics([topic]).catch(() => {});
      await bus.close();
    }
  },
});
