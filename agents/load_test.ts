/**
 * The agents under load, as real processes through the real broker: requests written all at once
 * must all be answered, each exactly once. Counts only; timings belong in `bench/`.
 */

import assert from "node:assert/strict";
import { userRequest } from "./submit.ts";
import { AgentsProcess, TestQueues } from "./testing.ts";
import { USER_INBOX } from "./topics.ts";

Deno.test({
  name: "500 requests written at once are all answered, each exactly once",
  fn: async () => {
    const queues = await TestQueues.create();
    const stateDir = await Deno.makeTempDir({ prefix: "agents-load-" });
    const agents = AgentsProcess.start(queues, { stateDir });
    try {
      await agents.ready();
      const N = 500;
      const conversations = Array.from({ length: N }, (_, i) => `conv-load${i}`);
      const deadline = new Date(Date.now() + 240_000);
      await queues.bus.send(conversations.map((conversationId) =>
        userRequest({
          conversationId,
          request: `Summarise why consumer lag matters (${conversationId})`,
          deadline,
          prefix: queues.prefix,
        })
      ));
      // Wait until the inbox holds an answer per request (read by a group of its own)
      const until = Date.now() + 240_000;
      let answers: { conversation: string; type: string }[] = [];
      while (Date.now() < until) {
        const ends = await queues.bus.highWatermarks(queues.topic(USER_INBOX));
        if (ends.reduce((n, e) => n + Number(e.offset), 0) >= N) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      answers = (await queues.read(USER_INBOX)).map((r) => ({
        conversation: r.envelope?.conversation_id ?? "?",
        type: r.envelope?.type ?? "?",
      }));
      const byConversation = new Map<string, number>();
      for (const a of answers) {
        byConversation.set(a.conversation, (byConversation.get(a.conversation) ?? 0) + 1);
      }
      assert.equal(byConversation.size, N, "every request was answered");
      assert.deepEqual(
        [...byConversation.values()].filter((n) => n > 1),
        [],
        "no request was answered twice",
      );
      const failed = answers.filter((a) => a.type !== "RESULT");
      assert.equal(
        failed.length,
        0,
        `answered with a RESULT: ${JSON.stringify(failed.slice(0, 3))}`,
      );
    } finally {
      await agents.stop();
      await queues.close();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});
