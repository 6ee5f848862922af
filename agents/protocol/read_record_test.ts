import assert from "node:assert/strict";
import { isRecord } from "../is_record.ts";
import { createEnvelope, encodeEnvelope } from "./envelope.ts";
import { parseMapping } from "./mapping.ts";
import type { NormalizedMessage } from "./normalized.ts";
import { ALL_DIALECTS, type RawRecord, readRecord } from "./read_record.ts";

/** Records made by another ecosystem's SDK (testdata/make_*_fixtures.*), by name */
function fixtures(file: string): Map<string, RawRecord> {
  const list: unknown = JSON.parse(
    Deno.readTextFileSync(new URL(`./testdata/${file}`, import.meta.url)),
  );
  if (!Array.isArray(list)) throw new TypeError(`${file} must hold an array`);
  const out = new Map<string, RawRecord>();
  for (const r of list) {
    if (!isRecord(r) || typeof r["name"] !== "string" || typeof r["value"] !== "string") {
      throw new TypeError(`${file}: a record needs a name and a value`);
    }
    const headers: Record<string, string> = {};
    if (isRecord(r["headers"])) {
      for (const [k, v] of Object.entries(r["headers"])) if (typeof v === "string") headers[k] = v;
    }
    out.set(r["name"], {
      key: typeof r["key"] === "string" ? r["key"] : null,
      value: new TextEncoder().encode(r["value"]),
      headers,
    });
  }
  return out;
}

const python = fixtures("python_sdk_records.json");
const js = fixtures("js_sdk_records.json");

function read(r: RawRecord | undefined): NormalizedMessage {
  if (r === undefined) throw new TypeError("No such fixture");
  const result = readRecord(r, ALL_DIALECTS);
  if (!result.ok) throw new assert.AssertionError({ message: result.reason });
  return result.message;
}

/** The facts the fold uses, without the payload */
function facts(m: NormalizedMessage): Omit<NormalizedMessage, "payload"> {
  const { payload: _p, ...rest } = m;
  return rest;
}

Deno.test("an A2A v1.0 Message in a binary CloudEvent is a task in its context", () => {
  assert.deepEqual(facts(read(python.get("binary message"))), {
    dialect: "cloudevents-binary/a2a-v1",
    kind: "task",
    message_id: "m-1",
    conversation_id: "ctx-1",
    task_id: "t-1",
    attempt: 1,
    created_at: "2026-12-01T10:00:00.000Z",
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    cloudevent: {
      type: "a2a.message",
      source: "planner",
      id: "ce-a2a.message-planner",
      time: "2026-12-01T10:00:00.000Z",
    },
  });
});

Deno.test("an A2A Task COMPLETED answers the user message of its history", () => {
  const m = read(python.get("binary task completed"));
  assert.equal(m.kind, "reply_ok");
  assert.equal(m.in_reply_to, "m-1");
  assert.equal(m.task_id, "t-1");
  assert.equal(m.message_id, "m-2");
});

Deno.test("an A2A Task FAILED with a 429 in its status text is a rate limit", () => {
  const m = read(python.get("binary task failed"));
  assert.equal(m.kind, "reply_failed");
  assert.deepEqual(m.error, {
    kind: "llm_rate_limit",
    message: "upstream LLM returned 429 Too Many Requests",
    retryable: true,
  });
});

Deno.test("A2A INPUT_REQUIRED is progress waiting on a person, in both versions", () => {
  const v1 = read(python.get("binary input required"));
  assert.deepEqual([v1.kind, v1.waiting_on, v1.task_id], ["progress", "input", "t-1"]);
  const v03 = read(js.get("binary status update"));
  assert.deepEqual([v03.dialect, v03.kind, v03.waiting_on], [
    "cloudevents-binary/a2a-v0.3",
    "progress",
    "input",
  ]);
});

Deno.test("structured CloudEvents are unwrapped, and v1.0 wrappers read through", () => {
  const asked = read(python.get("structured send message request"));
  assert.deepEqual([asked.dialect, asked.kind, asked.message_id, asked.cloudevent?.source], [
    "cloudevents-structured/a2a-v1",
    "task",
    "m-1",
    "/agents/planner",
  ]);
  const canceled = read(python.get("structured stream response canceled"));
  assert.deepEqual([canceled.kind, canceled.task_id], ["cancel", "t-1"]);
});

Deno.test("A2A JSON-RPC requests are tasks and their results replies (v0.3, npm SDKs)", () => {
  const asked = read(js.get("structured jsonrpc request"));
  assert.deepEqual([asked.dialect, asked.kind, asked.message_id, asked.conversation_id], [
    "cloudevents-structured/jsonrpc/a2a-v0.3",
    "task",
    "m-1",
    "ctx-1",
  ]);
  const failed = read(js.get("structured jsonrpc failed task"));
  assert.deepEqual([failed.kind, failed.in_reply_to, failed.error?.kind], [
    "reply_failed",
    "m-1",
    "llm_rate_limit",
  ]);
  const rpcError = read(js.get("structured jsonrpc error"));
  assert.deepEqual([rpcError.kind, rpcError.error?.message], [
    "reply_failed",
    "Internal error (JSON-RPC error -32603)",
  ]);
});

Deno.test("a CloudEvent whose data is not JSON is read by no dialect, and says so", () => {
  const result = readRecord(
    python.get("binary not json") ?? { key: null, value: "", headers: {} },
    ALL_DIALECTS,
  );
  assert.deepEqual(result, {
    ok: false,
    reason: `CloudEvent data is "application/octet-stream", not JSON`,
  });
});

Deno.test("our envelope is read first, its facts unchanged", () => {
  const e = createEnvelope({
    type: "TASK",
    source: "orchestrator",
    target: "coder",
    conversation_id: "c",
    task_id: "c.1",
  }, new Date("2026-12-01T10:00:00.000Z"));
  const m = read({ key: null, value: encodeEnvelope(e), headers: {} });
  assert.deepEqual([m.dialect, m.kind, m.sender, m.receiver, m.task_id], [
    "mat",
    "task",
    "orchestrator",
    "coder",
    "c.1",
  ]);
});

Deno.test("a record no dialect reads gets every dialect's reason, ours first", () => {
  const result = readRecord({ key: null, value: `{"hello":"world"}`, headers: {} }, ALL_DIALECTS);
  assert.deepEqual(result, {
    ok: false,
    reason: `"schema_version" must be an integer >= 1, got nothing; A2A: no A2A Message ` +
      `(messageId, role), Task (id, status) or status update (taskId, status)`,
  });
});

const MAPPING = parseMapping({
  mapping_version: 1,
  name: "ops-jobs",
  match: { "/v": 2 },
  kind: {
    from: "/event",
    values: { "job.requested": "task", "job.failed": "reply_failed", "job.progress": "progress" },
  },
  message_id: "/id",
  sender: "header:x-sender",
  conversation_id: "/session",
  task_id: "/job",
  in_reply_to: "/reply_to",
  created_at: "/at",
  deadline: "/due",
  error: {
    kind: {
      from: "/failure/code",
      values: { RATE_LIMITED: "llm_rate_limit" },
      default: "handler_error",
    },
    message: "/failure/detail",
    retryable: "/failure/retry",
  },
  waiting_on: { from: "/status", values: { needs_human: "input" } },
}, "ops.json");

Deno.test("a declared mapping reads a team's own JSON, headers and epoch times", () => {
  const dialects = { ...ALL_DIALECTS, mappings: [MAPPING] };
  const value = JSON.stringify({
    v: 2,
    event: "job.failed",
    id: "m-9",
    job: "j-1",
    session: "s-1",
    reply_to: "m-1",
    at: Date.parse("2026-12-01T10:00:00.000Z"),
    failure: { code: "RATE_LIMITED", detail: "429 from the model provider", retry: true },
  });
  const result = readRecord({ key: "j-1", value, headers: { "x-sender": "fixer" } }, dialects);
  assert.ok(result.ok, result.ok ? "" : result.reason);
  assert.deepEqual(facts(result.message), {
    dialect: "mapping:ops-jobs",
    kind: "reply_failed",
    message_id: "m-9",
    sender: "fixer",
    conversation_id: "s-1",
    task_id: "j-1",
    in_reply_to: "m-1",
    attempt: 1,
    created_at: "2026-12-01T10:00:00.000Z",
    error: { kind: "llm_rate_limit", message: "429 from the model provider", retryable: true },
  });
  const other = readRecord(
    { key: null, value: `{"v":3,"event":"job.failed"}`, headers: {} },
    dialects,
  );
  assert.equal(other.ok, false);
  assert.match(other.ok ? "" : other.reason, /mapping "ops-jobs": \/v is 3, not 2/);
});

Deno.test("a mapping file's mistakes are refused with the key quoted", () => {
  const base = {
    mapping_version: 1,
    name: "x",
    kind: { from: "/e", values: { a: "task" } },
    message_id: "/id",
  };
  const cases: [unknown, string][] = [
    [{ ...base, mapping_version: 2 }, `f.json: "mapping_version" must be 1, got 2`],
    [
      { ...base, name: "Has Space" },
      `f.json: "name" must be a lower-case name ([a-z0-9_.-], up to 63), got "Has Space"`,
    ],
    [
      { ...base, message_id: "id" },
      `f.json: "message_id" must be a JSON pointer starting with "/", "header:<name>" or "key", got "id"`,
    ],
    [
      { ...base, kind: { from: "/e", values: { a: "job" } } },
      `f.json: "kind.values.a" must be one of task, reply_ok, reply_failed, cancel, progress, other, got "job"`,
    ],
    [
      { ...base, senders: "/from" },
      `f.json: "senders" is not a key of a mapping (mapping_version, name, match, kind, message_id, sender, receiver, conversation_id, task_id, in_reply_to, created_at, deadline, attempt, error, usage, waiting_on)`,
    ],
    [
      { ...base, error: { kind: { from: "/c", values: { X: "rate_limit" } } } },
      `f.json: "error.kind.values.X" must be one of llm_rate_limit, llm_error, tool_error, handler_error, deadline_exceeded, timeout, invalid_message, unknown_agent, cancelled, internal, got "rate_limit"`,
    ],
    [
      { ...base, sender: "header:" },
      `f.json: "sender" names no header: "header:" needs a name after it`,
    ],
  ];
  for (const [json, message] of cases) {
    assert.throws(() => parseMapping(json, "f.json"), { name: "MappingError", message });
  }
});
