import assert from "node:assert/strict";
import { isRecord } from "@mat/agents/support";
import { until } from "../../until.ts";
import { a2aPython } from "./system.ts";
import { TestBed, type TopicRecord } from "./test_bed.ts";

const PROMPTS = [
  "kafka consumer lag",
  "the A2A protocol's task states",
  "CloudEvents binary content mode",
  "W3C trace context",
  "consumer group rebalancing",
  "at-least-once delivery",
];
/** How long the client waits for answers: a bound on a hang, not a figure the tests check */
const TIMEOUT_MS = 90_000;
const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/;
const SOURCES = ["client", ...a2aPython.agents];

/** The value at `path` in a JSON value, undefined where the path is not there */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let here = value;
  for (const step of path) {
    if (typeof step === "number") {
      if (!Array.isArray(here)) return undefined;
      here = here[step];
    } else {
      if (!isRecord(here)) return undefined;
      here = here[step];
    }
  }
  return here;
}

function text(value: unknown, ...path: (string | number)[]): string {
  const found = at(value, ...path);
  assert.equal(typeof found, "string", `${path.join(".")} of ${JSON.stringify(value)}`);
  return found as string;
}

function agentOf(record: TopicRecord): string {
  return record.topic.slice(record.topic.lastIndexOf(".") + 1);
}

/** Checks one record is a binary-mode CloudEvent carrying an A2A object in its JSON mapping */
function checkShape(record: TopicRecord): void {
  const where = `${record.topic}/${record.partition}@${record.offset}`;
  const h = record.headers;
  assert.equal(h["ce_specversion"], "1.0", where);
  assert.ok((h["ce_id"] ?? "") !== "", `ce_id of ${where}`);
  assert.ok(!Number.isNaN(Date.parse(h["ce_time"] ?? "")), `ce_time of ${where}`);
  assert.ok(SOURCES.includes(h["ce_source"] ?? ""), `ce_source of ${where}: ${h["ce_source"]}`);
  assert.equal(h["content-type"], "application/json", where);
  assert.match(h["ce_traceparent"] ?? "", TRACEPARENT, where);
  const correlation = h["correlation_id"] ?? "";
  assert.ok(correlation !== "", `correlation_id of ${where}`);
  const value: unknown = JSON.parse(record.value);
  switch (h["ce_type"]) {
    case "a2a.message.send":
      assert.equal(text(value, "messageId"), correlation, where);
      assert.equal(text(value, "role"), "ROLE_USER", where);
      assert.ok(text(value, "parts", 0, "text") !== "", where);
      assert.equal(text(value, "contextId"), record.key, where);
      text(value, "taskId");
      assert.ok((h["reply_topic"] ?? "").startsWith("a2a."), `reply_topic of ${where}`);
      break;
    case "a2a.task":
      text(value, "id");
      assert.equal(text(value, "contextId"), record.key, where);
      assert.match(text(value, "status", "state"), /^TASK_STATE_(COMPLETED|FAILED)$/, where);
      assert.equal(text(value, "status", "message", "role"), "ROLE_AGENT", where);
      assert.ok(!Number.isNaN(Date.parse(text(value, "status", "timestamp"))), where);
      assert.equal(text(value, "history", 0, "messageId"), correlation, where);
      assert.equal(text(value, "history", 0, "role"), "ROLE_USER", where);
      break;
    case "a2a.task.status-update":
      text(value, "taskId");
      assert.equal(text(value, "contextId"), record.key, where);
      assert.equal(text(value, "status", "state"), "TASK_STATE_INPUT_REQUIRED", where);
      assert.equal(text(value, "status", "message", "role"), "ROLE_AGENT", where);
      break;
    default:
      assert.fail(`ce_type of ${where}: ${h["ce_type"]}`);
  }
}

/** How many records each inbox holds, by CloudEvent type and A2A state: `planner a2a.task ...` */
function tally(records: TopicRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of records) {
    const state = at(JSON.parse(record.value), "status", "state");
    const key = [agentOf(record), record.headers["ce_source"], record.headers["ce_type"], state]
      .filter((part) => typeof part === "string").join(" ");
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Stops every agent with SIGTERM and checks each exited 0 */
async function stopCleanly(bed: TestBed): Promise<void> {
  for (const process of bed.processes) {
    const status = await process.stop();
    assert.equal(status.code, 0, `${process.agent} exit on SIGTERM:\n${process.stderr.join("\n")}`);
    assert.ok(process.linesWith(`${process.agent}: stopped`).length === 1, process.agent);
  }
}

Deno.test({
  name: "six requests to the planner are answered completed, through search then summarizer",
  fn: async () => {
    const bed = await TestBed.create();
    try {
      const [planner, search, summarizer] = bed.startAll();
      const answers = await a2aPython.ask(bed.bootstrap, bed.run, PROMPTS, TIMEOUT_MS);
      assert.deepEqual(answers.map((a) => a.outcome), Array(6).fill("completed"));
      answers.forEach((answer, i) => {
        assert.match(answer.text, new RegExp(`^Summary: 3 sources on "${PROMPTS[i]}"`));
      });
      assert.equal(new Set(answers.map((a) => a.request)).size, 6);
      await stopCleanly(bed);
      for (const agent of [planner, search, summarizer]) {
        assert.equal(agent?.linesWith("working on task").length, 6, agent?.agent);
      }

      const records = await bed.records();
      records.forEach(checkShape);
      assert.deepEqual(tally(records), {
        "planner client a2a.message.send": 6,
        "search planner a2a.message.send": 6,
        "planner search a2a.task TASK_STATE_COMPLETED": 6,
        "summarizer planner a2a.message.send": 6,
        "planner summarizer a2a.task TASK_STATE_COMPLETED": 6,
        "client planner a2a.task TASK_STATE_COMPLETED": 6,
      });
      // the answers are to the client's own messages, and each request is one trace
      const requests = records.filter((r) => r.headers["ce_source"] === "client");
      const traceOf = (r: TopicRecord) => TRACEPARENT.exec(r.headers["ce_traceparent"] ?? "")?.[1];
      for (const request of requests) {
        const id = request.headers["correlation_id"];
        assert.ok(answers.some((a) => a.request === id), `an answer to ${id}`);
        const conversation = records.filter((r) => r.key === request.key);
        assert.equal(conversation.length, 6, `records of conversation ${request.key}`);
        assert.ok(conversation.every((r) => traceOf(r) === traceOf(request)), `trace of ${id}`);
      }
    } finally {
      await bed.close();
    }
  },
});

Deno.test({
  name: "a summarizer failing every third task with a 429 fails two of six requests",
  fn: async () => {
    const bed = await TestBed.create("summarizer=fail429(every=3)");
    try {
      bed.startAll();
      const answers = await a2aPython.ask(bed.bootstrap, bed.run, PROMPTS, TIMEOUT_MS);
      const failed = answers.filter((a) => a.outcome === "failed");
      assert.equal(failed.length, 2, JSON.stringify(answers));
      assert.equal(answers.filter((a) => a.outcome === "completed").length, 4);
      for (const answer of failed) {
        assert.equal(
          answer.text,
          "summarizer failed: upstream LLM returned 429 Too Many Requests: rate limit exceeded",
        );
      }
      await stopCleanly(bed);

      const records = await bed.records();
      records.forEach(checkShape);
      const counts = tally(records);
      assert.equal(counts["planner summarizer a2a.task TASK_STATE_FAILED"], 2);
      assert.equal(counts["client planner a2a.task TASK_STATE_FAILED"], 2);
      assert.equal(counts["client planner a2a.task TASK_STATE_COMPLETED"], 4);
      const failures = records.filter((r) =>
        r.headers["ce_source"] === "summarizer" && r.value.includes("TASK_STATE_FAILED")
      );
      for (const record of failures) {
        assert.match(
          text(JSON.parse(record.value), "status", "message", "parts", 0, "text"),
          /429/,
        );
      }
    } finally {
      await bed.close();
    }
  },
});

Deno.test({
  name: "a search that needs input leaves every request waiting on the user",
  fn: async () => {
    const bed = await TestBed.create("search=input_required");
    try {
      bed.startAll();
      const answers = await a2aPython.ask(bed.bootstrap, bed.run, PROMPTS, TIMEOUT_MS);
      assert.deepEqual(answers.map((a) => a.outcome), Array(6).fill("input_required"));
      for (const answer of answers) {
        assert.match(answer.text, /^search needs input: need the user to confirm/);
      }
      await stopCleanly(bed);

      const records = await bed.records();
      records.forEach(checkShape);
      assert.deepEqual(tally(records), {
        "planner client a2a.message.send": 6,
        "search planner a2a.message.send": 6,
        "planner search a2a.task.status-update TASK_STATE_INPUT_REQUIRED": 6,
        "client planner a2a.task.status-update TASK_STATE_INPUT_REQUIRED": 6,
      });
    } finally {
      await bed.close();
    }
  },
});

Deno.test({
  name: "a search killed with SIGKILL and started again answers the requests sent meanwhile",
  fn: async () => {
    const bed = await TestBed.create();
    try {
      const planner = bed.start("planner");
      const search = bed.start("search");
      bed.start("summarizer");
      await search.printed("reading partitions [0, 1, 2]");
      search.signal("SIGKILL");
      assert.equal((await search.stop()).signal, "SIGKILL");

      const asked = a2aPython.ask(bed.bootstrap, bed.run, PROMPTS.slice(0, 3), TIMEOUT_MS);
      await planner.printed("asked search", 3);
      const restarted = bed.start("search");
      const answers = await asked;
      assert.deepEqual(answers.map((a) => a.outcome), Array(3).fill("completed"));
      assert.equal(restarted.linesWith("working on task").length, 3);
    } finally {
      await bed.close();
    }
  },
});

Deno.test({
  name: "a slow search stopped with SIGTERM mid-task leaves the task to the search after it",
  fn: async () => {
    const bed = await TestBed.create("search=slow(ms=600000)");
    try {
      const [, search] = bed.startAll();
      assert.ok(search);
      const asked = a2aPython.ask(bed.bootstrap, bed.run, PROMPTS.slice(0, 1), TIMEOUT_MS);
      await search.printed("working on task");
      const status = await search.stop();
      assert.equal(status.code, 0, search.stderr.join("\n"));
      assert.deepEqual(search.linesWith("answered"), []);
      const next = bed.start("search", "");
      const answers = await asked;
      assert.deepEqual(answers.map((a) => a.outcome), ["completed"]);
      assert.equal(next.linesWith("answered task").length, 1);
    } finally {
      await bed.close();
    }
  },
});

Deno.test({
  name: "a planner stopped until its group drops it answers the requests sent meanwhile on SIGCONT",
  fn: async () => {
    const bed = await TestBed.create();
    try {
      const [planner] = bed.startAll();
      assert.ok(planner);
      await planner.printed("reading partitions [0, 1, 2]");
      planner.signal("SIGSTOP");
      const asked = a2aPython.ask(bed.bootstrap, bed.run, PROMPTS.slice(0, 3), TIMEOUT_MS);
      await until("3 requests on the planner's inbox", async () => {
        return (await bed.recordCount(["planner"])) >= 3 ? true : undefined;
      });
      await until("the planner's group to drop it", async () => {
        return (await bed.groupMembers("planner")) === 0 ? true : undefined;
      });
      planner.signal("SIGCONT");
      const answers = await asked;
      assert.deepEqual(answers.map((a) => a.outcome), Array(3).fill("completed"));
      await stopCleanly(bed);
    } finally {
      await bed.close();
    }
  },
});

Deno.test({
  name: "an agent given an unknown fault exits 2 with the entry quoted",
  fn: async () => {
    await a2aPython.install(() => {});
    const [program, ...args] = a2aPython.command("search");
    assert.ok(program !== undefined);
    const output = await new Deno.Command(program, {
      args,
      env: { ...a2aPython.env("t-faults"), FOREIGN_FAULTS: "search=explode(ms=3)" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 2);
    assert.equal(
      new TextDecoder().decode(output.stderr),
      'error: Unknown fault "explode" in "search=explode(ms=3)": ' +
        "expected one of fail429, slow, input_required\n",
    );
    assert.equal(new TextDecoder().decode(output.stdout), "");
  },
});
