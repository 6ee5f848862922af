import assert from "node:assert/strict";
import { DEFAULT_FOLD_OPTIONS } from "@mat/observer";
import {
  dataDir,
  errorRecord,
  jsonl,
  message,
  observerStarted,
  queueSample,
} from "./testdata/history.ts";
import { oracle } from "./testing.ts";

Deno.test("queues gives as depth the messages that wait, not the end offsets summed", async () => {
  // Partition 0 is read to its end (offset 11); 3 messages wait on partition 1
  const sample = {
    ...queueSample(2, 1, "coder"),
    partitions: [
      { partition: 0, high: "11", committed: "11", lag: 0 },
      { partition: 1, high: "7", committed: "4", lag: 3 },
    ],
    lag: 3,
    status_reason: "lag is steady",
  };
  // As an observer writes it: its start, with the options it folds with, then the sample
  const dir = await dataDir({
    diff: jsonl(observerStarted(1, 0, DEFAULT_FOLD_OPTIONS)) + jsonl(sample),
  });
  const r = await oracle(["queues", "-f", "json", "--data-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  const queue = JSON.parse(r.stdout).queues[0];
  assert.equal(queue.depth, 3);
  const text = await oracle(["queues", "--data-dir", dir]);
  assert.equal(
    text.stdout,
    [
      "agent-queue-coder group=agent-coder OK: 3 message(s) waiting (lag trend steady), oldest waiting >0 s, 1 consumer(s) (lag is steady)",
      "   p0: end offset 11, committed 11, 0 message(s) waiting",
      "   p1: end offset 7, committed 4, 3 message(s) waiting",
      "",
    ].join("\n"),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("llm text labels every figure with its unit", async () => {
  const usage = (seq: number) =>
    message(seq, seq, {
      msg_type: "RESULT",
      source: "coder",
      target: "orchestrator",
      usage: {
        model: "m-1",
        input_tokens: 120,
        output_tokens: 80,
        cost_usd: 0.0001,
        latency_ms: 40 * (seq - 1),
      },
    });
  const dir = await dataDir({
    diff: [
      observerStarted(1, 0, DEFAULT_FOLD_OPTIONS),
      usage(2),
      usage(3),
      errorRecord(4, 4, "coder", { category: "llm", kind: "llm_rate_limit" }),
      message(5, 5, { msg_type: "RESULT", source: "writer", target: "orchestrator" }),
    ].map(jsonl).join(""),
  });
  const r = await oracle(["llm", "--data-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'coder m-1: 2 call(s), 240 input + 160 output tokens, cost $0.0002, 60 ms per call on average, 1 failed call(s) (error rate 33.3%) by kind {"llm_rate_limit":1}\n',
  );
  await Deno.remove(dir, { recursive: true });
});
