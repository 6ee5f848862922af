/**
 * Smoke tests of the broker `deno task kafka start` runs (or `KAFKA_BOOTSTRAP_SERVERS` names),
 * through kafkajs, the client the agents use: it proves kafkajs 2.2.4 speaks to this Kafka, and
 * that the broker refuses to create a queue nobody made. The configuration itself is checked first.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { silenceKafkaJsTimeoutWarnings } from "@mat/agents/kafkajs";
import { serverProperties } from "./broker_config.ts";
import { DATA_DIR } from "./paths.ts";
import { kafkaSettings } from "./settings.ts";

function client(): Kafka {
  silenceKafkaJsTimeoutWarnings();
  return new Kafka({
    clientId: "kafka-smoke-test",
    brokers: kafkaSettings().brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 10_000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
}

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

Deno.test("server.properties puts the client listener on KAFKA_PORT, the controller on the next port, and creates no topic on use", () => {
  const settings = kafkaSettings(new Map([["KAFKA_PORT", "39092"]]));
  const properties = serverProperties(settings).split("\n");
  for (
    const line of [
      "listeners=PLAINTEXT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093",
      "advertised.listeners=PLAINTEXT://127.0.0.1:39092",
      "controller.quorum.voters=1@127.0.0.1:39093",
      `log.dirs=${DATA_DIR}`,
      "num.partitions=3",
      "auto.create.topics.enable=false",
    ]
  ) {
    ok(properties.includes(line), `server.properties lacks "${line}"`);
  }
});

Deno.test("broker accepts a produce and a consume on an agent queue", async () => {
  const kafka = client();
  const topic = `smoke-agent-queue-${crypto.randomUUID()}`;
  const groupId = `smoke-agent-${crypto.randomUUID()}`;
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  await admin.connect();
  try {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
    });
    strictEqual(created, true);

    await producer.connect();
    const sent = await producer.send({
      topic,
      messages: [{
        key: "task-1",
        value: JSON.stringify({ kind: "task", body: "hello" }),
        headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
      }],
    });
    strictEqual(sent.length, 1);
    strictEqual(sent[0]?.errorCode, 0);

    let resolveReceived: (message: KafkaMessage) => void = () => {};
    const received = new Promise<KafkaMessage>((resolve) => resolveReceived = resolve);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: ({ message }) => Promise.resolve(resolveReceived(message)) });
    const message = await within(30_000, `the record on "${topic}"`, received);

    strictEqual(message.key?.toString(), "task-1");
    deepStrictEqual(JSON.parse(message.value?.toString() ?? "null"), {
      kind: "task",
      body: "hello",
    });
    strictEqual(
      message.headers?.["traceparent"]?.toString(),
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
});

Deno.test("broker refuses a produce to an unknown agent queue", async () => {
  const kafka = client();
  const topic = `smoke-agent-queue-missing-${crypto.randomUUID()}`;
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
  });
  await producer.connect();
  try {
    let failure: unknown;
    try {
      await producer.send({ topic, messages: [{ value: "nobody reads this" }] });
    } catch (error) {
      failure = error;
    }
    ok(failure instanceof Error, `Producing to "${topic}" succeeded: is auto.create.topics on?`);
    ok(
      /does not host this topic-partition|unknown topic/i.test(failure.message),
      `Unexpected error: ${failure.message}`,
    );
  } finally {
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    try {
      strictEqual((await admin.listTopics()).includes(topic), false);
    } finally {
      await admin.disconnect();
    }
  }
});
