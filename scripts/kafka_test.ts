/**
 * The command line of `deno task kafka`, run as a subprocess under NO_COLOR: its help, its usage
 * errors, `status` of a cluster that does not answer, and `start` and `status` under a
 * `KAFKA_TOPIC_PREFIX` of their own against the real broker. The broker's own tests are in
 * scripts/kafka/.
 */

import assert from "node:assert/strict";
import { bootstrapServers, KafkaBus } from "@mat/agents";
import { listTopics } from "./kafka/admin.ts";
import { runScript } from "./run_script.ts";

const KAFKA = new URL("./kafka.ts", import.meta.url).pathname;
const HELP = new URL("./testdata/kafka_help.txt", import.meta.url);

function kafka(args: string[], env: Record<string, string> = {}) {
  return runScript(KAFKA, args, {
    KAFKA_BOOTSTRAP_SERVERS: "",
    KAFKA_PORT: "",
    KAFKA_TOPIC_PREFIX: "",
    ...env,
  });
}

Deno.test("kafka --help and -h print the help on stdout and exit 0", async () => {
  const help = await Deno.readTextFile(HELP);
  for (const flag of ["--help", "-h"]) {
    assert.deepEqual(await kafka([flag]), { code: 0, stdout: help, stderr: "" });
  }
});

Deno.test("kafka exits 2 with one error line on a bad flag, command or argument", async () => {
  const cases: [string[], string][] = [
    [["--bogus"], 'error: Unknown flag "--bogus" (see --help)'],
    [[], "error: Missing command: expected start, stop or status"],
    [["frobnicate"], 'error: Unknown command "frobnicate": expected start, stop or status'],
    [["status", "stop"], 'error: Unexpected argument "stop" (see --help)'],
  ];
  for (const [args, error] of cases) {
    assert.deepEqual(await kafka(args), { code: 2, stdout: "", stderr: `${error}\n` });
  }
});

Deno.test("kafka exits 1 naming a bad KAFKA_PORT", async () => {
  assert.deepEqual(await kafka(["status"], { KAFKA_PORT: "abc" }), {
    code: 1,
    stdout: "",
    stderr: 'error: Invalid KAFKA_PORT "abc": expected an integer from 1 to 65534\n',
  });
});

Deno.test("kafka status of a cluster that does not answer says so and exits 3", async () => {
  assert.deepEqual(await kafka(["status"], { KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1" }), {
    code: 3,
    stdout: "kafka: 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS)\nbroker: does not answer\n",
    stderr: "",
  });
});

Deno.test("kafka stop does nothing when KAFKA_BOOTSTRAP_SERVERS names the cluster", async () => {
  assert.deepEqual(await kafka(["stop"], { KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1" }), {
    code: 0,
    stdout: "",
    stderr: "kafka: KAFKA_BOOTSTRAP_SERVERS is set: no local broker is managed, nothing to stop\n",
  });
});

Deno.test("kafka --help names the agent queues under KAFKA_TOPIC_PREFIX", async () => {
  const { code, stdout } = await kafka(["--help"], { KAFKA_TOPIC_PREFIX: "team-a-" });
  assert.equal(code, 0);
  const listed = stdout.split("\n").filter((line) => /^ {13}\S/.test(line)).map((l) => l.trim());
  assert.deepEqual(listed, [
    "team-a-orchestrator",
    "team-a-researcher",
    "team-a-writer",
    "team-a-coder",
    "team-a-user",
  ]);
});

Deno.test("kafka exits 1 naming a KAFKA_TOPIC_PREFIX no topic may carry", async () => {
  assert.deepEqual(await kafka(["status"], { KAFKA_TOPIC_PREFIX: "team a/" }), {
    code: 1,
    stdout: "",
    stderr: 'error: Invalid KAFKA_TOPIC_PREFIX "team a/": expected up to 200 letters, digits, ' +
      '".", "_" or "-"\n',
  });
});

Deno.test("kafka start under KAFKA_TOPIC_PREFIX creates the agent queues with that prefix", async () => {
  const brokers = bootstrapServers();
  const bootstrap = brokers.join(",");
  const prefix = `t${crypto.randomUUID().slice(0, 8)}-team-a-`;
  const queues = ["orchestrator", "researcher", "writer", "coder", "user"]
    .map((agent) => `${prefix}${agent}`);
  const env = {
    KAFKA_BOOTSTRAP_SERVERS: bootstrap,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_PARTITIONS: "2",
  };
  const waiting =
    `kafka: KAFKA_BOOTSTRAP_SERVERS is set: waiting for ${bootstrap} (no local broker)`;
  const bus = new KafkaBus(brokers, `test-${prefix}`);
  try {
    const before = await kafka(["status"], env);
    assert.equal(before.code, 0, before.stderr);
    assert.equal(
      before.stdout.trimEnd().split("\n").at(-1),
      `agent queues (prefix "${prefix}"): 0 of 5 present, missing ${queues.join(", ")} ` +
        "(`deno task kafka start` creates them)",
    );

    assert.deepEqual(await kafka(["start"], env), {
      code: 0,
      stdout: `kafka: ready on ${bootstrap} (created: ${queues.join(", ")})\n`,
      stderr: `${waiting}\nkafka: created ${queues.join(", ")} (2 partitions, replication 1)\n`,
    });
    const made = (await listTopics(brokers)).filter((topic) => topic.name.startsWith(prefix));
    assert.deepEqual(
      made,
      [...queues].sort().map((name) => ({ name, partitions: 2 })),
      "the broker has the five queues, and no other topic under the prefix",
    );

    assert.deepEqual(await kafka(["start"], env), {
      code: 0,
      stdout: `kafka: ready on ${bootstrap} (already present: ${queues.join(", ")})\n`,
      stderr: `${waiting}\nkafka: already present: ${queues.join(", ")}\n`,
    });
    const after = await kafka(["status"], env);
    assert.equal(
      after.stdout.trimEnd().split("\n").at(-1),
      `agent queues (prefix "${prefix}"): 5 of 5 present`,
    );
  } finally {
    await bus.deleteTopics(queues).catch(() => {});
    await bus.close();
  }
});
