import assert from "node:assert/strict";
import { MissingTopicError, missingTopicLine } from "./missing_topic.ts";

Deno.test("a missing agent queue is named with the start command that creates it under its prefix", () => {
  const error = new MissingTopicError("team-a-researcher", ["127.0.0.1:9092"]);
  assert.equal(error.message, 'Topic "team-a-researcher" does not exist on 127.0.0.1:9092');
  assert.equal(error.retriable, true);
  assert.equal(
    missingTopicLine(error, "team-a-"),
    'topic "team-a-researcher" does not exist on 127.0.0.1:9092; create it with ' +
      '"KAFKA_TOPIC_PREFIX=team-a- deno task kafka start" (or kafka-topics.sh ' +
      "--bootstrap-server 127.0.0.1:9092 --create --topic team-a-researcher)",
  );
});

Deno.test("under the default prefix the start command needs no KAFKA_TOPIC_PREFIX", () => {
  const error = new MissingTopicError("agent-queue-user", ["kafka-0:9092", "kafka-1:9092"]);
  assert.equal(
    missingTopicLine(error, "agent-queue-"),
    'topic "agent-queue-user" does not exist on kafka-0:9092,kafka-1:9092; create it with ' +
      '"deno task kafka start" (or kafka-topics.sh --bootstrap-server kafka-0:9092,kafka-1:9092 ' +
      "--create --topic agent-queue-user)",
  );
});

Deno.test("a queue start does not create is named with kafka-topics.sh alone", () => {
  const error = new MissingTopicError("team-a-auditor", ["127.0.0.1:9092"]);
  assert.equal(
    missingTopicLine(error, "team-a-"),
    'topic "team-a-auditor" does not exist on 127.0.0.1:9092; create it with ' +
      "kafka-topics.sh --bootstrap-server 127.0.0.1:9092 --create --topic team-a-auditor",
  );
});
