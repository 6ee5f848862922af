import assert from "node:assert/strict";
import { kafkaSettings } from "./settings.ts";

function env(vars: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(vars));
}

Deno.test("without KAFKA_BOOTSTRAP_SERVERS the local broker on 127.0.0.1:9092 is managed", () => {
  assert.deepEqual(kafkaSettings(env({})), {
    brokers: ["127.0.0.1:9092"],
    managed: true,
    port: 9092,
    controllerPort: 9093,
    partitions: 3,
    topicPrefix: "agent-queue-",
    queues: [
      "agent-queue-orchestrator",
      "agent-queue-researcher",
      "agent-queue-writer",
      "agent-queue-coder",
      "agent-queue-user",
    ],
  });
});

Deno.test("KAFKA_PORT moves the local broker and its controller, KAFKA_PARTITIONS its queues", () => {
  assert.deepEqual(kafkaSettings(env({ KAFKA_PORT: "39092", KAFKA_PARTITIONS: "5" })), {
    brokers: ["127.0.0.1:39092"],
    managed: true,
    port: 39092,
    controllerPort: 39093,
    partitions: 5,
    topicPrefix: "agent-queue-",
    queues: [
      "agent-queue-orchestrator",
      "agent-queue-researcher",
      "agent-queue-writer",
      "agent-queue-coder",
      "agent-queue-user",
    ],
  });
});

Deno.test("KAFKA_TOPIC_PREFIX names the agent queues start creates, as the agents name them", () => {
  const settings = kafkaSettings(env({ KAFKA_TOPIC_PREFIX: "team-a-" }));
  assert.equal(settings.topicPrefix, "team-a-");
  assert.deepEqual(settings.queues, [
    "team-a-orchestrator",
    "team-a-researcher",
    "team-a-writer",
    "team-a-coder",
    "team-a-user",
  ]);
});

Deno.test("KAFKA_BOOTSTRAP_SERVERS names the brokers and no broker is managed", () => {
  const settings = kafkaSettings(
    env({ KAFKA_BOOTSTRAP_SERVERS: " kafka-0:9092, [::1]:19092 ,", KAFKA_PORT: "39092" }),
  );
  assert.deepEqual(settings.brokers, ["kafka-0:9092", "[::1]:19092"]);
  assert.equal(settings.managed, false);
});

Deno.test("a blank KAFKA_BOOTSTRAP_SERVERS counts as unset", () => {
  const settings = kafkaSettings(env({ KAFKA_BOOTSTRAP_SERVERS: " , ", KAFKA_PORT: "39092" }));
  assert.deepEqual(settings.brokers, ["127.0.0.1:39092"]);
  assert.equal(settings.managed, true);
});

Deno.test("bad settings are refused with the variable and the value quoted", () => {
  const cases: [Record<string, string>, string][] = [
    [{ KAFKA_PORT: "abc" }, 'Invalid KAFKA_PORT "abc": expected an integer from 1 to 65534'],
    [{ KAFKA_PORT: "65535" }, 'Invalid KAFKA_PORT "65535": expected an integer from 1 to 65534'],
    [{ KAFKA_PARTITIONS: "0" }, 'Invalid KAFKA_PARTITIONS "0": expected an integer from 1 to 1000'],
    [
      { KAFKA_BOOTSTRAP_SERVERS: "kafka-0" },
      'Invalid KAFKA_BOOTSTRAP_SERVERS entry "kafka-0": expected host:port',
    ],
    [
      { KAFKA_TOPIC_PREFIX: "team a/" },
      'Invalid KAFKA_TOPIC_PREFIX "team a/": expected up to 200 letters, digits, ".", "_" or "-"',
    ],
  ];
  for (const [vars, message] of cases) {
    assert.throws(() => kafkaSettings(env(vars)), { name: "RangeError", message });
  }
});
