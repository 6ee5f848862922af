import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope } from "./protocol/envelope.ts";
import { PendingStore } from "./pending_store.ts";

function task(id: string) {
  const env = createEnvelope({
    type: "TASK",
    source: "user",
    target: "orchestrator",
    conversation_id: id,
    task_id: id,
    payload: { request: "r" },
  });
  return { env, text: encodeEnvelope(env) };
}

Deno.test("accepted tasks not finished are what a reopened store gives back", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/pending.jsonl`;
  try {
    const store = await PendingStore.open(path);
    const [a, b, c] = [task("a"), task("b"), task("c")];
    for (const t of [a, b, c]) await store.accept(t.env, t.text);
    await store.finish(b.env.message_id);
    store.close();
    // A torn last line (a crash mid-write) is skipped
    await Deno.writeTextFile(path, `{"op":"accept","message_id":"x","ta`, { append: true });
    const again = await PendingStore.open(path);
    assert.deepEqual(
      again.unfinished().map((e) => e.conversation_id).sort(),
      ["a", "c"],
    );
    assert.equal(again.has(a.env.message_id), true);
    assert.equal(again.has(b.env.message_id), false);
    again.close();
    const compacted = (await Deno.readTextFile(path)).trim().split("\n");
    assert.equal(compacted.length, 2, "compacted to what is still to do");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
