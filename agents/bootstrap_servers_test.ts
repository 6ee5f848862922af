import assert from "node:assert/strict";
import { bootstrapServers, kafkaPort } from "./bootstrap_servers.ts";

function env(vars: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(vars));
}

Deno.test("clients talk to the local broker on 127.0.0.1:9092 when nothing is set", () => {
  assert.deepEqual(bootstrapServers(env({})), ["127.0.0.1:9092"]);
});

Deno.test("clients follow KAFKA_PORT to the local broker, as `deno task kafka` does", () => {
  assert.deepEqual(bootstrapServers(env({ KAFKA_PORT: "39092" })), ["127.0.0.1:39092"]);
});

Deno.test("KAFKA_BOOTSTRAP_SERVERS wins over KAFKA_PORT, which is then not read", () => {
  assert.deepEqual(
    bootstrapServers(
      env({ KAFKA_BOOTSTRAP_SERVERS: " kafka-0:9092, kafka-1:9092 ,", KAFKA_PORT: "x" }),
    ),
    ["kafka-0:9092", "kafka-1:9092"],
  );
});

Deno.test("a blank KAFKA_BOOTSTRAP_SERVERS counts as unset", () => {
  assert.deepEqual(
    bootstrapServers(env({ KAFKA_BOOTSTRAP_SERVERS: " , ", KAFKA_PORT: "19092" })),
    ["127.0.0.1:19092"],
  );
});

Deno.test("a bad KAFKA_PORT is refused with its value quoted", () => {
  for (const value of ["abc", "0", "65535", "9092.5", "-1"]) {
    const message = `Invalid KAFKA_PORT "${value}": expected an integer from 1 to 65534`;
    assert.throws(() => kafkaPort(env({ KAFKA_PORT: value })), { name: "RangeError", message });
    assert.throws(() => bootstrapServers(env({ KAFKA_PORT: value })), {
      name: "RangeError",
      message,
    });
  }
});
