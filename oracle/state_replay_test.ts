/**
 * The state is replayed with the options the observer folded with, read from the history; a
 * history of an older observer, which records none, with the observer's defaults, and says so.
 */

import assert from "node:assert/strict";
import { DEFAULT_FOLD_OPTIONS, type DiffRecord, type FoldOptions } from "@mat/observer";
import { outputProblems } from "./output_schema.ts";
import {
  dataDir,
  jsonl,
  observerStarted,
  queueSample,
  snapshot,
  stateAfter,
} from "./testdata/history.ts";
import { oracle } from "./testing.ts";
import { TimeMachine } from "./time_machine.ts";

/** An observer of team A's queues, its queue window 2 samples */
const TEAM_A: FoldOptions = {
  prefix: "team-a-",
  topicPattern: "^team-a-(?<agent>[a-z][a-z0-9_-]{0,62})$",
  userInbox: "user",
  windowSize: 2,
  stuckAfterMs: 30_000,
  orphanGraceMs: 1_000,
};

/** A sample of team A's coder queue */
function sample(seq: number, s: number): DiffRecord {
  return {
    ...queueSample(seq, s, "coder", String(10 + seq)),
    topic: "team-a-coder",
    group: "team-a-agent-coder",
  };
}

function samples(fromSeq: number, n: number): DiffRecord[] {
  return Array.from({ length: n }, (_, i) => sample(fromSeq + i, fromSeq + i));
}

function windowOf(at: { state: { queues: { window: unknown[] }[] } }): number | undefined {
  return at.state.queues[0]?.window.length;
}

Deno.test("a history written with other options than the defaults is replayed with them", async () => {
  const before = [observerStarted(1, 0, TEAM_A), ...samples(2, 2)];
  const after = samples(4, 3);
  const dir = await dataDir({
    diff: [...before, ...after].map(jsonl).join(""),
    state: jsonl(snapshot(1, 3.5, 3, stateAfter(before, TEAM_A), TEAM_A)),
  });
  const tm = await TimeMachine.open(dir);
  const at = await tm.stateAt();
  assert.equal(at.replayed, 3);
  assert.deepEqual(at.foldOptions, { options: TEAM_A, source: "snapshot" });
  assert.deepEqual(at.state, stateAfter([...before, ...after], TEAM_A), "the observer's state");
  assert.equal(windowOf(at), 2);
  assert.notDeepEqual(at.state, stateAfter([...before, ...after]), "the defaults fold otherwise");
  assert.deepEqual(tm.report.summary(), []);

  const r = await oracle(["state", "-f", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(outputProblems(doc), []);
  assert.deepEqual(doc.rebuilt_from.fold_options, {
    topic_prefix: "team-a-",
    topic_pattern: "^team-a-(?<agent>[a-z][a-z0-9_-]{0,62})$",
    user_inbox: "user",
    queue_window: 2,
    stuck_after_ms: 30_000,
    orphan_grace_ms: 1_000,
    source: "snapshot",
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("with no snapshot the options the observer started with are used", async () => {
  const records = [observerStarted(1, 0, TEAM_A), ...samples(2, 4)];
  const dir = await dataDir({ diff: records.map(jsonl).join("") });
  const tm = await TimeMachine.open(dir);
  const at = await tm.stateAt();
  assert.deepEqual(at.foldOptions, { options: TEAM_A, source: "observer_started" });
  assert.equal(windowOf(at), 2);
  assert.deepEqual(tm.report.summary(), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an observer restarted with other options folds what follows with them", async () => {
  const before = [observerStarted(1, 0, TEAM_A), ...samples(2, 2)];
  const wider = { ...TEAM_A, windowSize: 4 };
  const after = [observerStarted(4, 4, wider), ...samples(5, 4)];
  const dir = await dataDir({
    diff: [...before, ...after].map(jsonl).join(""),
    state: jsonl(snapshot(1, 3.5, 3, stateAfter(before, TEAM_A), TEAM_A)),
  });
  const tm = await TimeMachine.open(dir);
  const at = await tm.stateAt();
  assert.deepEqual(at.foldOptions, { options: wider, source: "observer_started" });
  assert.equal(windowOf(at), 4);
  // Before the restart, the options of the snapshot
  const early = await tm.stateAt(Date.parse(after[0]?.ts ?? "") - 1);
  assert.deepEqual(early.foldOptions, { options: TEAM_A, source: "snapshot" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a history of an older observer is replayed with the observer's defaults, and says so", async () => {
  const before = samples(1, 2);
  const after = samples(3, 6);
  const dir = await dataDir({
    diff: [...before, ...after].map(jsonl).join(""),
    state: jsonl(snapshot(1, 2.5, 2, stateAfter(before), null)),
  });
  const tm = await TimeMachine.open(dir);
  const at = await tm.stateAt();
  assert.deepEqual(at.foldOptions, { options: DEFAULT_FOLD_OPTIONS, source: "default" });
  assert.equal(windowOf(at), DEFAULT_FOLD_OPTIONS.windowSize);

  const r = await oracle(["state", "-f", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    `warning: 6 record(s) replayed without the options the observer folded them with (an older ` +
      `observer did not record them): folded with its defaults (topic prefix "agent-queue-", ` +
      `queue window 5, stuck after 60000 ms, orphan grace 5000 ms)\n`,
  );
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(outputProblems(doc), []);
  assert.deepEqual(doc.rebuilt_from.fold_options, {
    topic_prefix: "agent-queue-",
    topic_pattern: "^agent-queue-(?<agent>[a-z][a-z0-9_-]{0,62})$",
    user_inbox: "user",
    queue_window: 5,
    stuck_after_ms: 60_000,
    orphan_grace_ms: 5_000,
    source: "default",
  });
  // Nothing replayed: nothing folded with the defaults, nothing to say
  const quiet = await dataDir({ state: jsonl(snapshot(1, 2.5, 2, stateAfter(before), null)) });
  const q = await oracle(["state", "--data-dir", quiet]);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stderr, "");
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(quiet, { recursive: true });
});
