import assert from "node:assert/strict";
import { KafkaBus } from "./kafka_bus.ts";
import { bootstrapServers } from "./bootstrap_servers.ts";

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
