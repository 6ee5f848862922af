/**
 * The local process source: against the real supervisor running a real agent (killed with
 * SIGKILL by the test), and against hand-written processes.jsonl files for the edge cases a
 * tail must get right (a file not there yet, a torn last line, truncation, a resume offset).
 */

import assert from "node:assert/strict";
import { AgentsProcess, TestQueues } from "@mat/agents/testing";
import { bootstrapServers } from "@mat/agents/protocol";
import { LocalSource } from "./local_source.ts";
import { CollectedEvents } from "./testing/collected_events.ts";

function line(fields: Record<string, unknown>): string {
  return JSON.stringify({
    schema_version: 1,
    ts: "2025-06-01T10:00:00.000Z",
    started_at: "2025-06-01T10:00:00.000Z",
    restart_count: 0,
    ...fields,
  }) + "\n";
}

/**
 * Waits until `source` has polled its file twice more: the second of those polls began after this
 * call, so whatever it was to find on disk now, it has found. Throws when the polls stop.
 */
async function aFullPoll(source: LocalSource, timeoutMs = 10_000): Promise<void> {
  const target = source.polls + 2;
  const until = Date.now() + timeoutMs;
  while (source.polls < target) {
    if (Date.now() > until) throw new Error(`${source.path} was not polled within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function brokerReachable(): Promise<string | undefined> {
  const [first] = bootstrapServers();
  const [hostname, port] = (first ?? "127.0.0.1:9092").split(":");
  try {
    const conn = await Deno.connect({ hostname: hostname ?? "127.0.0.1", port: Number(port) });
    conn.close();
    return undefined;
  } catch (error) {
    return `no Kafka broker at ${first} (start one with "deno task kafka start"): ${error}`;
  }
}

const brokerSkip = await brokerReachable();
if (brokerSkip !== undefined) {
  console.log(`local_source_test: skipping the supervisor test: ${brokerSkip}`);
}

Deno.test({
  name: "an agent killed with SIGKILL under the real supervisor yields exited then restarted",
  ignore: brokerSkip !== undefined,
  fn: async () => {
    const stateDir = await Deno.makeTempDir({ prefix: "local-source-" });
    const queues = await TestQueues.create(["researcher"], 1);
    const seen = new CollectedEvents();
    // Started before the supervisor: processes.jsonl does not exist yet.
    const source = new LocalSource({ stateDir, pollMs: 100, resourcesIntervalMs: 300 });
    await source.start(seen.emit);
    assert.deepEqual(source.health(), { ok: true });
    const agents = AgentsProcess.start(queues, { stateDir, only: ["researcher"] });
    try {
      const started = await seen.waitFor(
        (e) => e.kind === "started" && e.agent === "researcher",
        "started event of the researcher",
      );
      assert.match(started.process, /^pid:\d+$/);
      assert.equal(started.restart_count, 0);
      const pid = Number(started.process.slice(4));
      await agents.ready(1);

      // Its memory is sampled while it runs.
      const sample = await seen.waitFor(
        (e) => e.kind === "resources" && e.process === started.process,
        "resources sample",
      );
      assert.ok((sample.memory_bytes ?? 0) > 1024 * 1024, `RSS ${sample.memory_bytes}`);

      Deno.kill(pid, "SIGKILL");
      const exited = await seen.waitFor(
        (e) => e.kind === "exited" && e.process === started.process,
        "exited event",
      );
      assert.equal(exited.signal, "SIGKILL");
      assert.equal(exited.agent, "researcher");
      assert.equal(exited.reason, "Signaled");

      const restarted = await seen.waitFor((e) => e.kind === "restarted", "restarted event");
      assert.equal(restarted.restart_count, 1);
      assert.equal(restarted.signal, "SIGKILL");
      assert.notEqual(restarted.process, started.process, "a new pid");
      const again = await seen.waitFor(
        (e) => e.kind === "started" && e.restart_count === 1,
        "second started event",
      );
      assert.equal(again.process, restarted.process);
      assert.equal(seen.kinds().filter((k) => k === "crash_loop").length, 0, "one kill is no loop");

      // A graceful stop is an exit with reason "stopped".
      await agents.ready(2);
      await agents.stop();
      const stopped = await seen.waitFor(
        (e) => e.kind === "exited" && e.reason === "stopped",
        "exited event with reason stopped",
      );
      assert.equal(stopped.process, again.process);
      assert.deepEqual(source.health(), { ok: true });
    } finally {
      await agents.stop();
      await source.stop();
      await queues.close();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});

Deno.test("a missing file is waited for and a torn last line is read only once complete", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "local-source-" });
  const path = `${stateDir}/processes.jsonl`;
  const seen = new CollectedEvents();
  const source = new LocalSource({ stateDir, pollMs: 20, resourcesIntervalMs: 0 });
  try {
    await source.start(seen.emit);
    await aFullPoll(source);
    assert.equal(seen.events.length, 0, "a file not there yet is no event");
    assert.deepEqual(source.health(), { ok: true }, "a file not there yet is no error");

    const first = line({ event: "started", agent: "writer", pid: 4242 });
    const second = line({
      event: "exited",
      agent: "writer",
      pid: 4242,
      exit_code: 1,
      restart_in_ms: 500,
      ts: "2025-06-01T10:00:05.000Z",
    });
    const cut = 17;
    await Deno.writeTextFile(path, first + second.slice(0, cut));
    await seen.waitFor((e) => e.kind === "started", "started event");
    await aFullPoll(source);
    assert.deepEqual(seen.kinds(), ["started"], "the torn line is not consumed");
    assert.equal(source.offset, new TextEncoder().encode(first).length);
    assert.equal(source.linesSkipped, 0, "the torn line is not skipped as bad either");

    await Deno.writeTextFile(path, second.slice(cut), { append: true });
    const exited = await seen.waitFor((e) => e.kind === "exited", "exited event");
    assert.equal(exited.exit_code, 1);
    assert.equal(exited.reason, "Error");
    assert.equal(exited.process, "pid:4242");
    assert.equal(exited.at, "2025-06-01T10:00:05.000Z");
    assert.equal(source.offset, new TextEncoder().encode(first + second).length);

    // A bad line is skipped, the lines after it still count.
    await Deno.writeTextFile(path, "{not json\n" + line({ event: "nope" }), { append: true });
    await Deno.writeTextFile(
      path,
      line({ event: "started", agent: "writer", pid: 4243, restart_count: 1 }),
      { append: true },
    );
    const restarted = await seen.waitFor((e) => e.kind === "restarted", "restarted event");
    assert.equal(restarted.restart_count, 1);
    assert.equal(restarted.exit_code, 1, "the restart carries the previous exit");
    assert.equal(source.linesSkipped, 2);

    // Truncated (a new supervisor state dir, say): read again from the start.
    const before = seen.events.length;
    await Deno.writeTextFile(path, line({ event: "started", agent: "coder", pid: 7 }));
    await seen.waitFor((e) => e.agent === "coder", "event after truncation");
    assert.deepEqual(seen.events.slice(before).map((e) => `${e.kind} ${e.process}`), [
      "started pid:7",
    ]);
  } finally {
    await source.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("repeated exits or a long back-off are a crash loop, and fromOffset resumes", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "local-source-" });
  const path = `${stateDir}/processes.jsonl`;
  let text = "";
  for (let i = 0; i < 3; i++) {
    text += line({ event: "started", agent: "coder", pid: 100 + i, restart_count: i });
    text += line({
      event: "exited",
      agent: "coder",
      pid: 100 + i,
      restart_count: i,
      exit_code: 2,
      restart_in_ms: 500 * 2 ** i,
      ts: `2025-06-01T10:00:0${i}.000Z`,
    });
  }
  const resumeAt = new TextEncoder().encode(text).length;
  text += line({
    event: "exited",
    agent: "writer",
    pid: 9,
    exit_code: 1,
    restart_in_ms: 8000,
  });
  text += line({ event: "stopped", agent: "researcher", pid: 10, exit_code: 0, signal: "SIGTERM" });
  await Deno.writeTextFile(path, text);

  const seen = new CollectedEvents();
  const source = new LocalSource({ stateDir, pollMs: 20, resourcesIntervalMs: 0 });
  try {
    await source.start(seen.emit); // the first read happens before start resolves
    const loops = seen.events.filter((e) => e.kind === "crash_loop");
    assert.deepEqual(loops.map((e) => `${e.agent} ${e.process}`), [
      "coder pid:102", // its third exit within 60 s
      "writer pid:9", // an 8 s back-off
    ]);
    const stop = seen.events.find((e) => e.agent === "researcher");
    assert.equal(stop?.kind, "exited");
    assert.equal(stop?.reason, "stopped");
    assert.equal(stop?.signal, "SIGTERM");
    assert.equal(seen.events.filter((e) => e.kind === "restarted").length, 2);
  } finally {
    await source.stop();
  }

  const resumed = new CollectedEvents();
  const fromOffset = new LocalSource({ stateDir, fromOffset: resumeAt, resourcesIntervalMs: 0 });
  try {
    await fromOffset.start(resumed.emit);
    assert.deepEqual(resumed.events.map((e) => `${e.kind} ${e.agent}`), [
      "exited writer",
      "crash_loop writer",
      "exited researcher",
    ]);
  } finally {
    await fromOffset.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("three replicas of an agent dying once each are three restarts, not a crash loop", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "local-source-" });
  let text = "";
  for (let replica = 0; replica < 3; replica++) {
    text += line({ event: "started", agent: "coder", replica, pid: 200 + replica });
  }
  for (let replica = 0; replica < 3; replica++) {
    const pid = 200 + replica;
    text += line({
      event: "exited",
      agent: "coder",
      replica,
      pid,
      signal: "SIGKILL",
      restart_in_ms: 500,
      ts: `2025-06-01T10:00:1${replica}.000Z`,
    });
    text += line({ event: "started", agent: "coder", replica, pid: pid + 10, restart_count: 1 });
  }
  // One replica of the writer dies three times while its other replica runs on: a crash loop
  text += line({ event: "started", agent: "writer", replica: 0, pid: 300 });
  for (let i = 0; i < 3; i++) {
    text += line({ event: "started", agent: "writer", replica: 1, pid: 310 + i, restart_count: i });
    text += line({
      event: "exited",
      agent: "writer",
      replica: 1,
      pid: 310 + i,
      exit_code: 1,
      restart_in_ms: 500 * 2 ** i,
      ts: `2025-06-01T10:00:2${i}.000Z`,
    });
  }
  await Deno.writeTextFile(`${stateDir}/processes.jsonl`, text);
  const seen = new CollectedEvents();
  const source = new LocalSource({ stateDir, pollMs: 20, resourcesIntervalMs: 0 });
  try {
    await source.start(seen.emit);
    assert.deepEqual(
      seen.events.filter((e) => e.kind === "crash_loop").map((e) => `${e.agent} ${e.process}`),
      ["writer pid:312"],
    );
    const restarts = seen.events.filter((e) => e.kind === "restarted" && e.agent === "coder");
    assert.deepEqual(restarts.map((e) => [e.process, e.reason, e.signal]), [
      ["pid:210", "Signaled", "SIGKILL"],
      ["pid:211", "Signaled", "SIGKILL"],
      ["pid:212", "Signaled", "SIGKILL"],
    ]);
    assert.equal(restarts[0]?.message, "coder (replica 0) started again as pid 210 (restart 1)");
  } finally {
    await source.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});
