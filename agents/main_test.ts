import assert from "node:assert/strict";
import { bootstrapServers } from "./bootstrap_servers.ts";
import { createEnvelope, encodeEnvelope } from "./protocol/envelope.ts";
import { KafkaBus } from "./kafka_bus.ts";
import { textLines } from "./line_splitter.ts";
import { isRecord } from "./is_record.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

async function agent(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env: { ...env, NO_COLOR: "1", KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("a bad concurrency setting is a configuration error naming it, as in the observer", async () => {
  const cases: [string, string][] = [["AGENT_CONCURRENCY", "lots"], ["AGENT_MAX_IN_FLIGHT", "-3"]];
  for (const [key, value] of cases) {
    const r = await agent(["researcher"], { [key]: value });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), `error: ${key} must be a whole number above 0, got "${value}"`);
  }
});

Deno.test("a bad KAFKA_PORT is a configuration error of the agent and of submit, naming it", async () => {
  for (const main of ["./main.ts", "./submit_main.ts"]) {
    const args = main === "./main.ts" ? ["researcher"] : ["hello"];
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL(main, import.meta.url).pathname, ...args],
      env: { NO_COLOR: "1", KAFKA_BOOTSTRAP_SERVERS: "", KAFKA_PORT: "nine" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.equal(stderr, 'error: Invalid KAFKA_PORT "nine": expected an integer from 1 to 65534\n');
  }
});

Deno.test("an agent whose queue does not exist says so in one line and exits 3", async () => {
  const brokers = bootstrapServers().join(",");
  const prefix = `t${crypto.randomUUID().slice(0, 8)}-team-a-`;
  const stateDir = await Deno.makeTempDir({ prefix: "agent-no-queue-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "researcher"],
      env: {
        NO_COLOR: "1",
        KAFKA_BOOTSTRAP_SERVERS: brokers,
        KAFKA_TOPIC_PREFIX: prefix,
        AGENTS_STATE_DIR: stateDir,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    assert.deepEqual({
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    }, {
      code: 3,
      stdout: "",
      stderr: `error: agent "researcher": topic "${prefix}researcher" does not exist on ` +
        `${brokers}; create it with "KAFKA_TOPIC_PREFIX=${prefix} deno task kafka start" (or ` +
        `kafka-topics.sh --bootstrap-server ${brokers} --create --topic ${prefix}researcher)\n`,
    });
    assert.deepEqual([...Deno.readDirSync(stateDir)], [], "no store was opened");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("submit under a prefix whose queues do not exist names the missing inbox and exits 1", async () => {
  const brokers = bootstrapServers().join(",");
  const prefix = `t${crypto.randomUUID().slice(0, 8)}-team-a-`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("./submit_main.ts", import.meta.url).pathname, "hello"],
    env: { NO_COLOR: "1", KAFKA_BOOTSTRAP_SERVERS: brokers, KAFKA_TOPIC_PREFIX: prefix },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.deepEqual({
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  }, {
    code: 1,
    stdout: "",
    stderr: `error: cannot submit: topic "${prefix}user" does not exist on ${brokers}; create ` +
      `it with "KAFKA_TOPIC_PREFIX=${prefix} deno task kafka start" (or kafka-topics.sh ` +
      `--bootstrap-server ${brokers} --create --topic ${prefix}user)\n`,
  });
});

Deno.test({
  name: "an agent whose reply queue does not exist names it at every retry of the send",
  fn: async () => {
    const brokers = bootstrapServers();
    const prefix = `t${crypto.randomUUID().slice(0, 8)}-team-a-`;
    const queue = `${prefix}researcher`;
    const stateDir = await Deno.makeTempDir({ prefix: "agent-no-reply-queue-" });
    const bus = new KafkaBus(brokers, `test-${prefix}`);
    let child: Deno.ChildProcess | undefined;
    try {
      await bus.createTopics([queue], 1);
      // a task from the writer, whose queue nobody created: the reply has nowhere to go
      const task = createEnvelope({
        type: "TASK",
        source: "writer",
        target: "researcher",
        conversation_id: "conv-no-reply-queue",
        task_id: "task-no-reply-queue",
        payload: { instruction: "Research the missing queue" },
      });
      await bus.send([{ topic: queue, key: task.conversation_id, value: encodeEnvelope(task) }]);
      child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", MAIN, "researcher"],
        env: {
          NO_COLOR: "1",
          KAFKA_BOOTSTRAP_SERVERS: brokers.join(","),
          KAFKA_TOPIC_PREFIX: prefix,
          AGENTS_STATE_DIR: stateDir,
          LLM_BACKEND: "scripted",
        },
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const timer = setTimeout(() => child?.kill("SIGKILL"), 90_000);
      const warnings: unknown[] = [];
      for await (const line of textLines(child.stdout)) {
        const parsed: unknown = JSON.parse(line);
        if (isRecord(parsed) && parsed["msg"] === "send failed, retrying") {
          warnings.push({
            level: parsed["level"],
            attempt: parsed["attempt"],
            error: parsed["error"],
          });
          if (warnings.length === 2) break;
        }
      }
      clearTimeout(timer);
      const writerQueue = `${prefix}writer`;
      const error = `topic "${writerQueue}" does not exist on ${brokers.join(",")}; create it ` +
        `with "KAFKA_TOPIC_PREFIX=${prefix} deno task kafka start" (or kafka-topics.sh ` +
        `--bootstrap-server ${brokers.join(",")} --create --topic ${writerQueue})`;
      assert.deepEqual(warnings, [
        { level: "warn", attempt: 1, error },
        { level: "warn", attempt: 2, error },
      ]);
    } finally {
      try {
        child?.kill("SIGKILL");
      } catch {
        // exited already
      }
      await child?.stdout.cancel().catch(() => {});
      await child?.status;
      await bus.deleteTopics([queue]).catch(() => {});
      await bus.deleteGroup(`${prefix}agent-researcher`);
      await bus.close();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});
