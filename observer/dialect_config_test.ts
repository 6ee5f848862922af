import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { readingConfig } from "./dialect_config.ts";

const env = (vars: Record<string, string>) => ({ get: (key: string) => vars[key] });

Deno.test("by default the prefix names the queues, user is the requester, every dialect reads", () => {
  const c = readingConfig(env({}), "agent-queue-");
  assert.equal(c.topicPattern.agentOf("agent-queue-coder"), "coder");
  assert.equal(c.topicPattern.agentOf("a2a.inbox.coder"), undefined);
  assert.equal(c.userInbox, "user");
  assert.deepEqual(c.dialectNames, ["mat", "cloudevents", "a2a"]);
});

Deno.test("a topic pattern, a requester and a mapping file point it at a foreign system", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        mapping_version: 1,
        name: "ops-jobs",
        kind: { from: "/event", values: { "job.requested": "task" } },
        message_id: "/id",
      }),
    );
    const c = readingConfig(
      env({
        KAFKA_TOPIC_PATTERN: "^a2a\\.inbox\\.(?<agent>[^.]+)$",
        OBSERVER_USER_INBOX: "client",
        OBSERVER_MAPPINGS: file,
        OBSERVER_DIALECTS: "cloudevents,a2a",
      }),
      "agent-queue-",
    );
    assert.equal(c.topicPattern.agentOf("a2a.inbox.summarizer"), "summarizer");
    assert.equal(c.userInbox, "client");
    assert.deepEqual(c.dialectNames, ["cloudevents", "a2a", "mapping:ops-jobs"]);
    assert.equal(c.dialects.mat, false);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a wrong reading setting is a ConfigError naming its variable and what is wrong", async () => {
  const bad = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(bad, `{"mapping_version":1,"name":"x","message_id":"/id"}`);
  const cases: [Record<string, string>, string, string][] = [
    [
      { KAFKA_TOPIC_PATTERN: "^a2a(" },
      "KAFKA_TOPIC_PATTERN",
      `KAFKA_TOPIC_PATTERN: Invalid topic pattern "^a2a(": Invalid regular expression: /^a2a(/: Unterminated group`,
    ],
    [
      { KAFKA_TOPIC_PATTERN: "^a2a\\.inbox\\..+$" },
      "KAFKA_TOPIC_PATTERN",
      `KAFKA_TOPIC_PATTERN: Topic pattern "^a2a\\.inbox\\..+$" has no named group "agent": write (?<agent>...) around the agent`,
    ],
    [
      { OBSERVER_USER_INBOX: "the client" },
      "OBSERVER_USER_INBOX",
      `OBSERVER_USER_INBOX must be an agent name (letters, digits, ._-), got "the client"`,
    ],
    [
      { OBSERVER_DIALECTS: "mat,protobuf" },
      "OBSERVER_DIALECTS",
      `OBSERVER_DIALECTS must list dialects of mat, cloudevents, a2a (declared mappings come from OBSERVER_MAPPINGS), got "protobuf"`,
    ],
    [
      { OBSERVER_DIALECTS: "cloudevents" },
      "OBSERVER_DIALECTS",
      "OBSERVER_DIALECTS leaves no dialect that reads a message (mat, a2a or a mapping)",
    ],
    [
      { OBSERVER_MAPPINGS: bad },
      "OBSERVER_MAPPINGS",
      `OBSERVER_MAPPINGS: ${bad}: "kind" must be an object { "from", "values", "default" }, got nothing`,
    ],
    [
      { OBSERVER_MAPPINGS: `${bad}.missing` },
      "OBSERVER_MAPPINGS",
      `OBSERVER_MAPPINGS: cannot read "${bad}.missing": No such file or directory (os error 2): readfile '${bad}.missing'`,
    ],
  ];
  try {
    for (const [vars, variable, message] of cases) {
      assert.throws(
        () => readingConfig(env(vars), "agent-queue-"),
        (err) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.variable, variable);
          assert.equal(err.message, message);
          return true;
        },
      );
    }
  } finally {
    await Deno.remove(bad);
  }
});
