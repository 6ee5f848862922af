import assert from "node:assert/strict";
import { isRecord } from "@mat/agents/support";
import { COMMANDS } from "./cli_args.ts";
import { boundedDocument, boundLists, OUTPUT_MAX_CHARS } from "./output_bound.ts";
import { head } from "./output_document.ts";
import { outputProblems } from "./output_schema.ts";
import { stateAfter } from "./testdata/history.ts";
import { WIDE_CONVERSATION, wideHistory, wideRecords } from "./testdata/wide_history.ts";
import { oracle } from "./testing.ts";

const SHAPE = { agents: 54, partitions: 12 };

/** Every list in a value, with where it is */
function listsIn(v: unknown, path = "$"): { path: string; length: number }[] {
  if (Array.isArray(v)) {
    return [{ path, length: v.length }, ...v.flatMap((x, i) => listsIn(x, `${path}[${i}]`))];
  }
  if (!isRecord(v)) return [];
  return Object.entries(v).flatMap(([k, x]) => listsIn(x, `${path}.${k}`));
}

const argsOf = (command: string) => command === "trace" ? [command, WIDE_CONVERSATION] : [command];

Deno.test("boundLists cuts every list at any depth and counts each cut beside it", () => {
  const value = {
    rows: [{ parts: [1, 2, 3] }, { parts: [1] }, { parts: [] }],
    tasks_in_flight: [1, 2, 3, 4],
    tasks_in_flight_omitted: 6,
  };
  assert.deepEqual(boundLists(value, 2), {
    rows: [{ parts: [1, 2], parts_omitted: 1 }, { parts: [1] }],
    rows_omitted: 1,
    tasks_in_flight: [1, 2],
    tasks_in_flight_omitted: 8,
  });
  assert.equal(value.rows.length, 3, "the value it was given is left as it was");
});

Deno.test("boundedDocument keeps the limit given, or the largest that fits by default", () => {
  const inv = {
    command: "diffs" as const,
    format: "json" as const,
    dataDir: "/d",
    limit: 50,
    limitGiven: false,
    help: false,
  };
  const answer = (n: number) => ({ ...head(inv, NaN), events: Array(n).fill("x".repeat(100)) });
  const fitted = boundedDocument(answer, 50, true, 2_000);
  assert.ok(JSON.stringify(fitted).length <= 2_000);
  assert.ok(JSON.stringify({ ...answer(Number(fitted["limit"]) + 1), limit: 1 }).length > 2_000);
  assert.equal(boundedDocument(answer, 50, false, 2_000)["limit"], 50);
});

Deno.test("every command's JSON stays under 8,000 characters on 54 agents x 12 partitions, saying what it left out", async () => {
  const dir = await wideHistory(SHAPE);
  const state = stateAfter(wideRecords(SHAPE));
  for (const command of COMMANDS) {
    const r = await oracle([...argsOf(command), "-f", "json", "--data-dir", dir]);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assert.ok(r.stdout.length < OUTPUT_MAX_CHARS, `${command}: ${r.stdout.length} characters`);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(outputProblems(doc), [], command);
    for (const key of ["errors", "events", "queues", "hops", "agents", "usage"]) {
      if (!Array.isArray(doc[key]) || command === "diagnose") continue;
      assert.equal(doc[key].length + doc.omitted, doc.total, `${command} ${key}`);
      assert.ok(doc.omitted > 0, `${command} ${key}: something was left out`);
    }
    if (command === "state") {
      for (const key of ["agents", "queues", "positions", "usage"] as const) {
        assert.equal(
          doc.state[key].length + doc.state[`${key}_omitted`],
          state[key].length,
          `state ${key}`,
        );
      }
    }
    if (command === "queues") {
      for (const q of doc.queues) {
        assert.equal(q.partitions.length + (q.partitions_omitted ?? 0), SHAPE.partitions);
      }
    }
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--limit is honoured by every list of every command", async () => {
  const dir = await wideHistory(SHAPE);
  for (const command of COMMANDS) {
    const r = await oracle([...argsOf(command), "-l", "5", "-f", "json", "--data-dir", dir]);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(outputProblems(doc), [], command);
    assert.equal(doc.limit, 5, command);
    // diagnose bounds itself (its incidents, 4 symptoms each, 3 notes): its evidence is whole
    const lists = command === "diagnose"
      ? listsIn({ incidents: doc.incidents, notes: doc.notes })
        .filter((l) => !/evidence|seqs|next_commands/.test(l.path))
      : listsIn(doc);
    for (const l of lists) assert.ok(l.length <= 5, `${command} ${l.path}: ${l.length}`);
  }
  const r = await oracle(["state", "-l", "5", "-f", "json", "--data-dir", dir]);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.state.agents.length, 5);
  assert.equal(doc.state.positions_omitted, stateAfter(wideRecords(SHAPE)).positions.length - 5);
  await Deno.remove(dir, { recursive: true });
});
