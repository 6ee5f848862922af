/**
 * The state and the windows the oracle rebuilds from damaged or unusual histories: real files, the
 * real CLI as a subprocess, its stdout and stderr compared separately.
 */

import assert from "node:assert/strict";
import type { DiffRecord } from "@mat/observer";
import { validate } from "./json_schema.ts";
import schema from "./schema/oracle_output.schema.json" with { type: "json" };
import {
  at,
  dataDir,
  errorRecord,
  jsonl,
  message,
  queueSample,
  snapshot,
  stateAfter,
} from "./testdata/history.ts";
import { oracle } from "./testing.ts";

interface Place {
  kind?: string;
  file: string;
  offset: number;
  reason?: string;
}

interface Doc {
  skipped_lines: number;
  skipped: { by_kind: Record<string, number>; places: Place[] };
  out_of_order: { records: number; places: Place[] };
  [key: string]: unknown;
}

async function json(args: string[], dir: string): Promise<{ doc: Doc; stderr: string }> {
  const r = await oracle([...args, "-f", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(validate(schema, doc), [], `${args.join(" ")} validates`);
  return { doc, stderr: r.stderr };
}

function messagesSeen(doc: Doc): number {
  return (doc["state"] as { messages_seen: number }).messages_seen;
}

/** 20 messages folded into a snapshot (seq 1 of the state history), and 2 more after it */
function rotatedHistory(): { diff: string; good: string; records: DiffRecord[] } {
  const folded = Array.from({ length: 20 }, (_, i) => message(i + 1, i + 1));
  const after = [message(21, 30), message(22, 31)];
  // The diff history was rotated: only the records after the snapshot are left on disk.
  return {
    diff: after.map(jsonl).join(""),
    good: jsonl(snapshot(1, 25, 20, stateAfter(folded))),
    records: after,
  };
}

/** 195 events a second apart, from T0 + 1 s; one of them has a time far from the others */
async function outOfOrder(badTs: string): Promise<{ dir: string; lines: string[] }> {
  const records = Array.from({ length: 195 }, (_, i) => message(i + 1, i + 1));
  const lines = records.map((r, i) => jsonl(i === 19 ? { ...r, ts: badTs } : r));
  return { dir: await dataDir({ diff: lines.join("") }), lines };
}

Deno.test("replay -m counts back from the end of a diff history that has no state history", async () => {
  const records = Array.from({ length: 30 }, (_, i) => message(i + 1, i * 60));
  const dir = await dataDir({ diff: records.map(jsonl).join("") });
  const { doc } = await json(["replay", "-m", "10"], dir);
  assert.deepEqual(doc["window"], { after: at(29 * 60 - 600), before: at(29 * 60) });
  assert.deepEqual((doc["events"] as { seq: number }[]).map((e) => e.seq), [
    20,
    21,
    22,
    23,
    24,
    25,
    26,
    27,
    28,
    29,
    30,
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("agents named like Object.prototype members keep exact counts", async () => {
  const names = ["constructor", "toString", "__proto__", "hasOwnProperty", "toString"];
  const folded = names.slice(0, 3).map((a, i) => errorRecord(i + 1, i + 1, a));
  const after = names.slice(3).map((a, i) => errorRecord(i + 4, i + 30, a));
  // The counts a snapshot holds, written out (JSON.parse makes "__proto__" a key like any other)
  const counts = JSON.parse(`{"constructor":1,"toString":1,"__proto__":1}`);
  const state = {
    ...stateAfter(folded),
    error_counts: { by_severity: { error: 3 }, by_category: { agent: 3 }, by_agent: counts },
  };
  const dir = await dataDir({
    diff: [...folded, ...after].map(jsonl).join(""),
    state: jsonl(snapshot(1, 10, 3, state)),
  });
  const expected = JSON.parse(`{"constructor":1,"toString":2,"__proto__":1,"hasOwnProperty":1}`);
  for (const state of [true, false]) {
    const d = state ? dir : await dataDir({ diff: [...folded, ...after].map(jsonl).join("") });
    const { doc } = await json(["state"], d);
    assert.equal(doc.skipped_lines, 0, "the snapshot is valid");
    const byAgent = (doc["state"] as { error_counts: { by_agent: Record<string, unknown> } })
      .error_counts.by_agent;
    assert.deepEqual(
      Object.entries(byAgent).sort(),
      Object.entries(expected).sort(),
      state ? "from the snapshot" : "from no snapshot",
    );
    if (!state) await Deno.remove(d, { recursive: true });
  }
  await Deno.remove(dir, { recursive: true });
});
