import assert from "node:assert/strict";
import { DIFF_FILE_BASE } from "@mat/observer";
import { activePath } from "@mat/observer/segments";
import { historyEnd } from "./history_end.ts";
import { History } from "./history_reader.ts";
import { ReadStats } from "./read_sink.ts";
import { at, jsonl, message, observerStarted, T0 } from "./testdata/history.ts";

const NOW = T0 + 3_600_000;

async function endOf(lines: string[]): Promise<{ end: string; notes: string[] }> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(activePath(dir, DIFF_FILE_BASE), lines.join(""));
  const stats = new ReadStats();
  const end = historyEnd(await History.open(dir, DIFF_FILE_BASE), stats, NOW);
  await Deno.remove(dir, { recursive: true });
  return { end: new Date(end).toISOString(), notes: stats.notes.map((n) => n.text) };
}

const steady = Array.from({ length: 20 }, (_, i) => jsonl(message(i + 1, i + 1)));

Deno.test("a history ends at its newest record time", async () => {
  assert.deepEqual(await endOf(steady), { end: at(20), notes: [] });
});

Deno.test("a last time in the future of the clock, or far from the times before it, is not the end", async () => {
  const future = await endOf([
    ...steady,
    jsonl({ ...message(21, 21), ts: "2099-01-01T00:00:00.000Z" }),
  ]);
  assert.equal(future.end, at(20));
  assert.match(
    future.notes[0] ?? "",
    /^record seq 21 is stamped 2099-01-01T00:00:00\.000Z, in the future of this clock/,
  );
  const far = await endOf([...steady, jsonl(message(21, 1800))]);
  assert.equal(far.end, at(20));
  assert.match(far.notes[0] ?? "", /^record seq 21 .* out of line with the records around it/);
  const past = await endOf([
    ...steady,
    jsonl({ ...message(21, 21), ts: "1970-01-02T00:00:00.000Z" }),
  ]);
  assert.equal(past.end, at(20));
});

Deno.test("a restart after a long pause is the end, alone or with records after it", async () => {
  const restart = jsonl(observerStarted(21, 3000));
  assert.deepEqual(await endOf([...steady, restart]), { end: at(3000), notes: [] });
  assert.deepEqual(await endOf([...steady, restart, jsonl(message(22, 3001))]), {
    end: at(3001),
    notes: [],
  });
});

Deno.test("a history stamped wholly ahead of this clock ends at its newest time", async () => {
  const ahead = Array.from({ length: 5 }, (_, i) => jsonl(message(i + 1, 7200 + i)));
  assert.equal((await endOf(ahead)).end, at(7204));
});
