import assert from "node:assert/strict";
import { DoneStore, type StoredReply } from "./done_store.ts";

const reply = (value: string): StoredReply => ({
  topic: "agent-queue-user",
  key: "k",
  value,
  headers: {},
});

Deno.test("a reopened done store answers for finished tasks, past a torn and a corrupt line", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/group/done.jsonl`;
  try {
    const store = await DoneStore.open(path);
    await store.put("m1", [reply("one")]);
    await store.put("m2", [reply("two")]);
    store.close();
    // A line that is not a finished task, then a crash mid-write
    await Deno.writeTextFile(path, `not json\n{"message_id":"m3","replies":[]}`, {
      append: true,
    });
    const again = await DoneStore.open(path);
    assert.deepEqual(again.get("m1"), [reply("one")]);
    assert.deepEqual(again.get("m2"), [reply("two")]);
    assert.equal(again.get("m3"), undefined, "a line cut short is not a finished task");
    await again.put("m4", []);
    again.close();
    assert.deepEqual(
      (await Deno.readTextFile(path)).split("\n").map((l) => l && JSON.parse(l).message_id),
      ["m1", "m2", "m4", ""],
      "compacted on opening, then appended to",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
