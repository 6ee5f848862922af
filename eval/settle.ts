/**
 * Waits until the observer has recorded every record written to the topics so far, then one more
 * queue sample: what diagnose reads is then the whole story, not a lagging part
 */

import type { KafkaBus } from "@mat/agents";
import type { HistoryTail } from "./history_tail.ts";
import { until } from "./until.ts";

export async function settleHistory(
  bus: Pick<KafkaBus, "highWatermarks">,
  topics: readonly string[],
  history: HistoryTail,
  timeoutMs = 60_000,
): Promise<void> {
  const highs = new Map<string, number>();
  for (const topic of topics) {
    for (const p of await bus.highWatermarks(topic)) {
      highs.set(`${topic}:${p.partition}`, Number(p.offset));
    }
  }
  await until("the observer caught up with the queues", async () => {
    const seen = new Map<string, number>();
    for (const r of await history.refresh()) {
      if (r.type !== "message" && r.type !== "message_malformed") continue;
      const key = `${r.topic}:${r.partition}`;
      seen.set(key, Math.max(seen.get(key) ?? -1, Number(r.offset)));
    }
    return [...highs].every(([key, high]) => (seen.get(key) ?? -1) >= high - 1) ? true : undefined;
  }, timeoutMs);
  const now = history.records.at(-1)?.seq ?? 0;
  await history.waitForCount(
    "a queue sample since",
    (r) => r.type === "queue_sample" && r.seq > now,
    1,
    timeoutMs,
  );
}
