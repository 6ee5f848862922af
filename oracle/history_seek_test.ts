import assert from "node:assert/strict";
import { History } from "./history_reader.ts";
import { ReadStats } from "./read_sink.ts";
import { headerLine, segmentedDir, T0 } from "./testdata/history.ts";

async function seqsFrom(h: History, t: number): Promise<number[]> {
  const out: number[] = [];
  for await (const l of h.lines(h.seek(t), new ReadStats())) {
    out.push(Number(l.value()?.["seq"]));
  }
  return out;
}

Deno.test("seek finds the first record at or after a time across segments", async () => {
  const pad = `,"pad":"${"y".repeat(500)}"`;
  const all = Array.from({ length: 2000 }, (_, i) => headerLine(i, pad));
  const dir = await segmentedDir([all.slice(0, 700), all.slice(700, 1400)], all.slice(1400));
  const h = await History.open(dir, "diff_time_machine");
  for (const target of [0, 1, 699, 700, 701, 1399, 1400, 1999]) {
    const seqs = await seqsFrom(h, T0 + target * 1000);
    assert.equal(seqs[0], target, `seek to ${target}`);
    assert.equal(seqs.length, 2000 - target);
  }
  for (const target of [0, 699, 700, 1400, 1999, 2000]) {
    assert.deepEqual(h.seekSeq(target), h.seek(T0 + target * 1000), `seq ${target}`);
  }
  assert.deepEqual(await seqsFrom(h, T0 + 5_000_000), []);
  assert.equal((await seqsFrom(h, T0 - 1000))[0], 0);
  assert.equal(Number(h.last()?.value()?.["seq"]), 1999);
  for (const target of [1, 700, 1400, 1999]) {
    const before = h.before(h.seek(T0 + target * 1000));
    assert.equal(before?.value()?.["seq"], target - 1, `before ${target}`);
  }
  assert.equal(h.before(h.start), undefined);
  assert.equal(h.before(h.seek(T0 + 9_999_000))?.value()?.["seq"], 1999);
  await Deno.remove(dir, { recursive: true });
});
