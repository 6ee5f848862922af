/**
 * The a2a-js system run for real: installed with npm, its three agents as Node.js processes on the
 * broker at KAFKA_BOOTSTRAP_SERVERS, asked through its own client, and its records read back from
 * the topics as the observer will see them.
 */

import assert from "node:assert/strict";
import { a2aJs } from "./system.ts";
import { RunningSystem, type TopicRecord } from "./running_system.ts";
import { until } from "../../until.ts";

const BOOTSTRAP = Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") || "127.0.0.1:9092";
const ASK_TIMEOUT_MS = 60_000;
const PROMPTS = [
  "reverse a string",
  "sum a list of numbers",
  "parse a CSV line",
  "merge two sorted arrays",
  "count the words in a text",
  "check an email address",
];

type Json = Record<string, unknown>;

function isJson(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function field(o: unknown, ...path: (string | number)[]): unknown {
  let v: unknown = o;
  for (const k of path) {
    if (typeof k === "number") v = Array.isArray(v) ? v[k] : undefined;
    else v = isJson(v) ? v[k] : undefined;
  }
  return v;
}

/** The records of one agent's (or the caller's) topic */
function on(records: TopicRecord[], agent: string, run: string): TopicRecord[] {
  return records.filter((r) => r.topic === a2aJs.topic(agent, run));
}

function lines(text: string, pattern: RegExp): number {
  return text.split("\n").filter((l) => pattern.test(l)).length;
}

/** Asserts a record is a structured CloudEvent carrying JSON-RPC 2.0, and returns its data */
function assertStructuredCloudEvent(r: TopicRecord): Json {
  const where = `${r.topic}[${r.partition}]@${r.offset}`;
  assert.match(r.headers["content-type"] ?? "", /^application\/cloudevents\+json\b/, where);
  assert.ok(isJson(r.value), `${where} holds a JSON object`);
  assert.equal(r.value["specversion"], "1.0", where);
  for (const attribute of ["type", "source", "id", "time"]) {
    assert.equal(typeof r.value[attribute], "string", `${where} "${attribute}"`);
  }
  const data = r.value["data"];
  assert.ok(isJson(data), `${where} "data" is an object`);
  assert.equal(data["jsonrpc"], "2.0", where);
  return data;
}

/** The `message/send` requests among records, by their message id */
function requestsOf(records: TopicRecord[]): Map<string, TopicRecord> {
  const out = new Map<string, TopicRecord>();
  for (const r of records) {
    if (field(r.value, "data", "method") !== "message/send") continue;
    const messageId = field(r.value, "data", "params", "message", "messageId");
    assert.equal(typeof messageId, "string");
    out.set(String(messageId), r);
  }
  return out;
}

async function withSystem(
  faults: string,
  body: (running: RunningSystem) => Promise<void>,
): Promise<string> {
  await a2aJs.install(() => {});
  const running = await RunningSystem.start(a2aJs, BOOTSTRAP, faults);
  let exits;
  let failed = false;
  try {
    await body(running);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    exits = await running.stop();
    // what the agents said, to read a failure by
    if (failed) {
      for (const e of exits) console.error(`--- ${e.agent}\n${e.stdout}\n${e.stderr}`);
    }
  }
  for (const e of exits) {
    assert.equal(e.code, 0, `${e.agent} exits 0 on SIGTERM (stderr: ${e.stderr.slice(-2000)})`);
  }
  return exits.map((e) => e.stdout).join("");
}

Deno.test({
  name: "a2a-js answers every request through coder and reviewer, in structured CloudEvents",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const stdout = await withSystem("", async (running) => {
      const { run } = running;
      const answers = await a2aJs.ask(BOOTSTRAP, run, PROMPTS, ASK_TIMEOUT_MS);
      assert.deepEqual(answers.map((a) => a.outcome), PROMPTS.map(() => "completed"));
      answers.forEach((a, i) => {
        assert.ok(a.text.startsWith(`// ${PROMPTS[i]}\n`), a.text);
        assert.match(a.text, /\n\nReview: approved/);
      });

      const records = await running.read(
        "every record of the six requests",
        (rs) =>
          on(rs, "caller", run).length >= 6 && on(rs, "router", run).length >= 18 &&
          on(rs, "coder", run).length >= 6 && on(rs, "reviewer", run).length >= 6,
      );
      const requests = requestsOf(records);
      assert.equal(requests.size, 18, "6 from the caller, 6 to coder, 6 to reviewer");
      const fromCaller = [...requests.values()].filter((r) =>
        field(r.value, "source") === "caller"
      );
      assert.deepEqual(
        fromCaller.map((r) => String(field(r.value, "data", "params", "message", "messageId")))
          .sort(),
        answers.map((a) => a.request).sort(),
        "the client's request ids are the messageIds it sent",
      );
      for (const r of records) {
        const data = assertStructuredCloudEvent(r);
        const source = String(field(r.value, "source"));
        assert.ok([...a2aJs.agents, a2aJs.userInbox].includes(source), source);
        if (data["method"] !== undefined) {
          assert.equal(field(r.value, "type"), "a2a.message.send");
          const message = field(data, "params", "message");
          assert.equal(r.headers["reply_topic"], a2aJs.topic(source, run));
          assert.equal(r.headers["correlation_id"], field(message, "messageId"));
          assert.equal(field(message, "kind"), "message");
          assert.equal(field(message, "role"), "user");
          assert.equal(field(message, "parts", 0, "kind"), "text");
          continue;
        }
        // an answer: the Task, to the requester's reply topic, tied to its request
        const request = requests.get(r.headers["correlation_id"] ?? "");
        assert.ok(request !== undefined, `${r.topic}@${r.offset} answers a request`);
        assert.equal(r.topic, request.headers["reply_topic"]);
        assert.equal(data["id"], field(request.value, "data", "id"), "the request's JSON-RPC id");
        assert.equal(field(r.value, "type"), "a2a.task");
        assert.equal(field(data, "result", "kind"), "task");
        assert.equal(field(data, "result", "status", "state"), "completed");
        assert.equal(field(data, "result", "history", 0, "messageId"), r.headers["correlation_id"]);
        assert.equal(field(data, "result", "status", "message", "role"), "agent");
      }
    });
    for (const agent of a2aJs.agents) {
      assert.equal(lines(stdout, new RegExp(`^${agent}: working on task `)), 6, agent);
      assert.equal(lines(stdout, new RegExp(`^${agent}: answered task `)), 6, agent);
    }
  },
});

Deno.test({
  name: "a2a-js fails the requests whose review was rate-limited, with the reviewer's 429 text",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withSystem("reviewer=fail429(every=3)", async (running) => {
      const { run } = running;
      const answers = await a2aJs.ask(BOOTSTRAP, run, PROMPTS, ASK_TIMEOUT_MS);
      const failed = answers.filter((a) => a.outcome === "failed");
      assert.equal(failed.length, 2, JSON.stringify(answers));
      assert.equal(answers.filter((a) => a.outcome === "completed").length, 4);
      for (const a of failed) assert.match(a.text, /\b429\b/);

      const records = await running.read(
        "the six answers",
        (rs) => on(rs, "caller", run).length >= 6,
      );
      const states = on(records, "caller", run).map((r) => {
        assertStructuredCloudEvent(r);
        return field(r.value, "data", "result", "status", "state");
      });
      assert.equal(states.filter((s) => s === "failed").length, 2);
    });
  },
});

Deno.test({
  name: "a2a-js forwards a coder waiting on a person as an input-required status update",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const prompts = PROMPTS.slice(0, 3);
    const stdout = await withSystem("coder=input_required", async (running) => {
      const { run } = running;
      const answers = await a2aJs.ask(BOOTSTRAP, run, prompts, ASK_TIMEOUT_MS);
      assert.deepEqual(answers.map((a) => a.outcome), prompts.map(() => "input_required"));
      for (const a of answers) assert.match(a.text, /A person has to choose/);

      const records = await running.read(
        "the three updates",
        (rs) => on(rs, "caller", run).length >= 3 && on(rs, "router", run).length >= 6,
      );
      const updates = [...on(records, "caller", run), ...on(records, "router", run)]
        .filter((r) => field(r.value, "data", "method") === undefined);
      assert.equal(updates.length, 6, "one from coder to router, one from router to caller, each");
      for (const r of updates) {
        const data = assertStructuredCloudEvent(r);
        assert.equal(field(r.value, "type"), "a2a.status-update");
        assert.equal(field(data, "result", "kind"), "status-update");
        assert.equal(field(data, "result", "status", "state"), "input-required");
        assert.equal(field(data, "result", "final"), true);
        assert.equal(typeof field(data, "result", "taskId"), "string");
      }
    });
    assert.equal(lines(stdout, /^reviewer: working on task /), 0, "the reviewer is never asked");
  },
});

Deno.test({
  name: "a2a-js redoes the task of a coder killed mid-task once the coder is started again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withSystem("coder=slow(ms=4000)", async (running) => {
      const asked = a2aJs.ask(BOOTSTRAP, running.run, PROMPTS.slice(0, 1), 2 * ASK_TIMEOUT_MS);
      const working = /^coder: working on task \S+ \(message (\S+)\)$/m;
      const message = await until(
        "the coder working on the task",
        () => working.exec(running.stdout("coder"))?.[1],
      );
      running.signal("coder", "SIGKILL");
      assert.equal((await running.restart("coder")).signal, "SIGKILL");
      const answers = await asked;
      assert.deepEqual(answers.map((a) => a.outcome), ["completed"]);
      const tries = lines(running.stdout("coder"), new RegExp(`^coder: working on .*${message}`));
      assert.equal(tries, 2, "the request it had not committed is handled again after the restart");
    });
  },
});

Deno.test({
  name: "a2a-js answers the requests a reviewer frozen past its session holds once it goes on",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withSystem("", async (running) => {
      const first = await a2aJs.ask(BOOTSTRAP, running.run, PROMPTS.slice(0, 1), ASK_TIMEOUT_MS);
      assert.deepEqual(first.map((a) => a.outcome), ["completed"]);
      assert.equal(await running.groupMembers("reviewer"), 1);
      running.signal("reviewer", "SIGSTOP");
      let asked;
      try {
        asked = a2aJs.ask(BOOTSTRAP, running.run, PROMPTS.slice(1, 3), 2 * ASK_TIMEOUT_MS);
        await until(
          "the frozen reviewer dropped from its group",
          async () => await running.groupMembers("reviewer") === 0 ? true : undefined,
        );
      } finally {
        running.signal("reviewer", "SIGCONT");
      }
      const answers = await asked;
      assert.deepEqual(answers.map((a) => a.outcome), ["completed", "completed"]);
    });
  },
});
