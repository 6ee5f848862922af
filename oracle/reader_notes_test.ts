/**
 * The reader proves what it read: each way a history can be silently wrong (files that are not
 * files, seqs missing, a bad time, a snapshot that does not fit, a fractional seq, invalid UTF-8,
 * a window that holds nothing) is a note of the answer and a `warning:` line, and `diagnose` says
 * `unknown` rather than `healthy` when the history cannot support it. Real files, the real CLI.
 */

import assert from "node:assert/strict";
import { DEFAULT_FOLD_OPTIONS, DIFF_FILE_BASE, type DiffRecord } from "@mat/observer";
import { activePath, closedPath } from "@mat/observer/segments";
import { outputProblems } from "./output_schema.ts";
import {
  at,
  errorRecord,
  jsonl,
  message,
  observerStarted,
  snapshot,
  stateAfter,
} from "./testdata/history.ts";
import { oracle } from "./testing.ts";

interface Note {
  kind: string;
  file: string | null;
  offset: number | null;
  text: string;
}

interface Doc {
  status?: string;
  summary?: string;
  incidents?: { root_cause: { kind: string; agent: string | null } }[];
  skipped: { by_kind: Record<string, number> };
  reader_notes: { undermined: boolean; by_kind: Record<string, number>; notes: Note[] };
  [key: string]: unknown;
}

async function run(args: string[], dir: string): Promise<{ doc: Doc; stderr: string }> {
  const r = await oracle([...args, "-f", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(outputProblems(doc), [], `${args.join(" ")} validates`);
  return { doc, stderr: r.stderr };
}

/** 30 records, one a second: an observer start and messages, with no fault in them */
function quiet(): DiffRecord[] {
  return [
    observerStarted(1, 1, DEFAULT_FOLD_OPTIONS),
    ...Array.from({ length: 29 }, (_, i) => message(i + 2, i + 2)),
  ];
}

/** Three rate limits of coder at the end of a quiet history: diagnose says failing */
function rateLimited(): DiffRecord[] {
  const extra = { kind: "llm_rate_limit", category: "llm", severity: "error" } as const;
  return [...quiet(), ...[31, 32, 33].map((s) => errorRecord(s, s, "coder", extra))];
}

/** A data directory with these diff records in closed segments of `per` lines, then the active */
async function segmented(records: DiffRecord[], per = 10): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "reader-notes-" });
  const lines = records.map(jsonl);
  const chunks: string[][] = [];
  for (let i = 0; i < lines.length; i += per) chunks.push(lines.slice(i, i + per));
  const active = chunks.pop() ?? [];
  for (const [i, c] of chunks.entries()) {
    await Deno.writeTextFile(closedPath(dir, DIFF_FILE_BASE, i + 1), c.join(""));
  }
  await Deno.writeTextFile(activePath(dir, DIFF_FILE_BASE), active.join(""));
  return dir;
}

function kinds(doc: Doc): string[] {
  return doc.reader_notes.notes.map((n) => n.kind);
}

Deno.test("a clean history has no reader note and is healthy", async () => {
  const dir = await segmented(quiet());
  const { doc, stderr } = await run(["diagnose"], dir);
  assert.equal(doc.status, "healthy");
  assert.deepEqual(kinds(doc), []);
  assert.equal(doc.reader_notes.undermined, false);
  assert.equal(stderr, "");
  await Deno.remove(dir, { recursive: true });
});

for (const what of ["directory", "fifo", "dangling symlink"] as const) {
  Deno.test(`a ${what} named like a segment is reported, and diagnose says unknown`, async () => {
    const dir = await segmented(quiet());
    const middle = closedPath(dir, DIFF_FILE_BASE, 2);
    await Deno.remove(middle);
    if (what === "directory") await Deno.mkdir(middle);
    else if (what === "dangling symlink") await Deno.symlink(`${dir}/nowhere`, middle);
    else {
      const made = await new Deno.Command("mkfifo", { args: [middle] }).output();
      assert.ok(made.success, "mkfifo");
    }
    const { doc, stderr } = await run(["diagnose"], dir);
    assert.equal(doc.status, "unknown");
    assert.match(doc.summary ?? "", /^Unknown: no incident found, but the history cannot support/);
    const note = doc.reader_notes.notes.find((n) => n.kind === "not_a_file");
    assert.equal(note?.file, middle);
    assert.equal(
      note?.text,
      `a segment of the history is a ${what}, not a regular file: its records were not read`,
    );
    // The records of the segment around it are missing too
    assert.ok(kinds(doc).includes("seq_gap"), kinds(doc).join());
    assert.match(
      stderr,
      new RegExp(`warning: a segment of the history is a ${what}, not a regular`),
    );
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("a missing middle segment or deleted lines are a seq gap saying where and how many", async () => {
  const records = rateLimited();
  for (const cut of ["segment", "lines"] as const) {
    const dir = await segmented(records);
    const second = closedPath(dir, DIFF_FILE_BASE, 2);
    if (cut === "segment") await Deno.remove(second);
    else {
      const lines = (await Deno.readTextFile(second)).split("\n");
      await Deno.writeTextFile(second, [...lines.slice(0, 3), ...lines.slice(7)].join("\n"));
    }
    const { doc, stderr } = await run(["diagnose"], dir);
    const gap = doc.reader_notes.notes.find((n) => n.kind === "seq_gap");
    const [from, to, missing] = cut === "segment" ? [10, 21, 10] : [13, 18, 4];
    assert.equal(gap?.text, `seq jumps from ${from} to ${to}: ${missing} record(s) missing`, cut);
    const before = records.slice(10, 13).map(jsonl).join("").length;
    assert.equal(gap?.offset, cut === "segment" ? 0 : before);
    assert.equal(gap?.file, closedPath(dir, DIFF_FILE_BASE, cut === "segment" ? 3 : 2));
    assert.equal(doc.reader_notes.undermined, true);
    // The incident found stands, and the summary says what could not be checked
    assert.equal(doc.status, "failing");
    assert.match(doc.summary ?? "", /Not all of the history could be checked: seq jumps/);
    assert.match(stderr, new RegExp(`warning: seq jumps from ${from} to ${to}`));
    await Deno.remove(dir, { recursive: true });
  }
  // With no incident, the same gap makes the answer unknown
  const dir = await segmented(quiet());
  await Deno.remove(closedPath(dir, DIFF_FILE_BASE, 2));
  assert.equal((await run(["diagnose"], dir)).doc.status, "unknown");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("one future time on the last line neither moves the window nor hides the incidents", async () => {
  const records = rateLimited();
  const last = records.at(-1);
  assert.ok(last);
  records.push(message(last.seq + 1, 34));
  const lines = records.map(jsonl);
  lines[lines.length - 1] = jsonl({ ...records.at(-1), ts: "2099-01-01T00:00:00.000Z" });
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(activePath(dir, DIFF_FILE_BASE), lines.join(""));
  const { doc, stderr } = await run(["diagnose"], dir);
  assert.equal(doc.status, "failing");
  assert.equal(doc.incidents?.[0]?.root_cause.kind, "llm_rate_limited");
  assert.deepEqual(doc["window"], { after: at(33 - 900), before: at(33) });
  const note = doc.reader_notes.notes.find((n) => n.kind === "bad_time");
  assert.match(
    note?.text ?? "",
    /^record seq 34 is stamped 2099-01-01T00:00:00\.000Z, in the future/,
  );
  assert.match(stderr, /warning: record seq 34 is stamped 2099/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a last time far out of line with the records before it is not the end of the history", async () => {
  const records = rateLimited();
  const lines = records.map(jsonl);
  // Stamped in the past of the wall clock, but a week after the record before it
  lines.push(jsonl(message(34, 34 + 7 * 86_400)));
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(activePath(dir, DIFF_FILE_BASE), lines.join(""));
  const { doc } = await run(["diagnose"], dir);
  assert.equal(doc.status, "failing");
  assert.deepEqual(doc["window"], { after: at(33 - 900), before: at(33) });
  assert.match(doc.reader_notes.notes[0]?.text ?? "", /seq 34 .* out of line with the records/);
  await Deno.remove(dir, { recursive: true });
});

for (const [what, diffSeq] of [["past the end", 500], ["at 0", 0]] as const) {
  Deno.test(`a snapshot whose diff_seq is ${what} is not used, and that is said`, async () => {
    const records = quiet();
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(activePath(dir, DIFF_FILE_BASE), records.map(jsonl).join(""));
    // Taken after seq 20 (as its state and time say), but its diff_seq says otherwise
    const state = stateAfter(records.slice(0, 20), DEFAULT_FOLD_OPTIONS);
    await Deno.writeTextFile(
      `${dir}/state_time_machine.jsonl`,
      jsonl(snapshot(1, 20, diffSeq, state)),
    );
    const { doc, stderr } = await run(["state"], dir);
    const view = doc["state"] as { messages_seen: number };
    assert.equal(view.messages_seen, 29, "every message counted once");
    assert.equal((doc["rebuilt_from"] as { snapshot_seq: number | null }).snapshot_seq, null);
    const note = doc.reader_notes.notes.find((n) => n.kind === "snapshot_unfit");
    assert.match(
      note?.text ?? "",
      /^snapshot seq 1 does not fit the diff history \(.*\): not used$/,
    );
    assert.match(stderr, /warning: snapshot seq 1 does not fit the diff history/);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("a snapshot whose diff_seq is a little low is found by its positions", async () => {
  const records = quiet();
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(activePath(dir, DIFF_FILE_BASE), records.map(jsonl).join(""));
  const state = stateAfter(records.slice(0, 20), DEFAULT_FOLD_OPTIONS);
  await Deno.writeTextFile(`${dir}/state_time_machine.jsonl`, jsonl(snapshot(1, 20, 17, state)));
  const { doc } = await run(["state"], dir);
  assert.equal((doc["state"] as { messages_seen: number }).messages_seen, 29);
  assert.match(
    doc.reader_notes.notes[0]?.text ?? "",
    /seq 18, after its diff_seq 17, is agent-queue-researcher offset 18, which the snapshot's position \(20\) already holds/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a fractional seq is an unreadable line, and every answer still validates", async () => {
  const lines = quiet().map(jsonl);
  lines[5] = lines[5]?.replace('"seq":6,', '"seq":6.5,') ?? "";
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(activePath(dir, DIFF_FILE_BASE), lines.join(""));
  for (const command of ["diagnose", "diffs", "replay", "state", "errors", "queues", "agents"]) {
    const { doc } = await run([command], dir);
    assert.equal(doc.skipped.by_kind["corrupt"], 1, command);
  }
  const { doc } = await run(["diffs"], dir);
  const place = (doc.skipped as unknown as { places: { reason: string }[] }).places[0];
  assert.equal(place?.reason, '"seq" is 6.5, not an integer >= 0');
  await Deno.remove(dir, { recursive: true });
});

Deno.test("invalid UTF-8 in a name is an unreadable line, not a new agent", async () => {
  const encoder = new TextEncoder();
  const records = quiet();
  const bad = jsonl(message(31, 31, { agent: "coder", target: "coder" }));
  const bytes = encoder.encode(bad);
  const at = bad.indexOf('"agent":"coder"') + 11;
  bytes[at] = 0xff; // "coder" becomes "co\xffer"
  for (const where of ["ascii chunk", "non-ascii chunk"] as const) {
    const dir = await Deno.makeTempDir();
    const head = records.map(jsonl).join("") +
      (where === "non-ascii chunk" ? jsonl(message(0, 0, { agent: "café" })) : "");
    const tail = jsonl(message(32, 32));
    const file = new Uint8Array([...encoder.encode(head), ...bytes, ...encoder.encode(tail)]);
    await Deno.writeFile(activePath(dir, DIFF_FILE_BASE), file);
    const { doc } = await run(["agents"], dir);
    const names = (doc["agents"] as { agent: string }[]).map((a) => a.agent);
    assert.ok(names.every((n) => !n.includes("\ufffd")), `${where}: ${names.join()}`);
    assert.equal(doc.skipped.by_kind["corrupt"], 1, where);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a relative window that holds none of an old history says so, and is not healthy", async () => {
  const dir = await segmented(quiet());
  const { doc, stderr } = await run(["diagnose", "--since", "10m"], dir);
  assert.equal(doc.status, "unknown");
  const note = doc.reader_notes.notes.find((n) => n.kind === "window_empty");
  assert.match(
    note?.text ?? "",
    new RegExp(
      `^the window .* holds no record of the diff history: it ends before the window, at ${
        at(30).replaceAll(".", "\\.")
      }$`,
    ),
  );
  const window = doc["window"] as { after: string; before: string };
  assert.ok(window.after < window.before, "the window is not inverted");
  assert.match(stderr, /warning: the window .* holds no record/);
  // The same for the raw events of such a window
  const diffs = await run(["diffs", "--after", "10m"], dir);
  assert.equal(diffs.doc["total"], 0);
  assert.ok(kinds(diffs.doc).includes("window_empty"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the text answer lists the reader notes after the answer", async () => {
  const dir = await segmented(quiet());
  await Deno.remove(closedPath(dir, DIFF_FILE_BASE, 2));
  const r = await oracle(["diagnose", "--data-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^status: UNKNOWN/);
  assert.match(
    r.stdout,
    /\nreader notes \(what the history could not tell\):\n {2}- seq_gap: seq jumps from 10 to 21: 10 record\(s\) missing \(.*diff_time_machine\.jsonl:0\)\n/,
  );
  await Deno.remove(dir, { recursive: true });
});
