import assert from "node:assert/strict";
import { jsonl, message } from "../oracle/testdata/history.ts";
import { HistoryTail } from "./history_tail.ts";

Deno.test("the tail reads complete records as the history grows, a line still being written later", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/diff_time_machine.jsonl`;
  try {
    const tail = new HistoryTail(path);
    assert.deepEqual(await tail.refresh(), [], "no file yet");
    const [one, two, three] = [message(1, 1), message(2, 2), message(3, 3)].map(jsonl);
    await Deno.writeTextFile(path, `${one}${two?.slice(0, 40)}`);
    assert.deepEqual((await tail.refresh()).map((r) => r.seq), [1]);
    await Deno.writeTextFile(path, `${two?.slice(40)}${three}`, { append: true });
    assert.deepEqual((await tail.refresh()).map((r) => r.seq), [1, 2, 3]);
    assert.deepEqual((await tail.refresh()).map((r) => r.seq), [1, 2, 3], "nothing read twice");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
