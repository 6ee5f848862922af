/**
 * `deno task bench [--messages N]`: figures, not a test. Produces N envelopes (default 100000) to
 * an isolated agent queue, then reads them (1) with a bare consumer that only counts, (2) with the
 * observer writing its time machine; prints the ingest rates and their ratio, the production-to-
 * disk latency (median, p99) and the resident memory after 10k messages and at the end.
 * Exit codes: 0 done, 2 usage error.
 */

import { parseArgs } from "node:util";
import { bootstrapServers, createEnvelope, encodeEnvelope, topicFor } from "@mat/agents";
import { KafkaAdapter } from "./kafka_adapter.ts";
import { loadConfig } from "./config.ts";
import { Observer } from "./observer.ts";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

async function main(argv: string[]): Promise<number> {
  let n: number;
  try {
    const { values } = parseArgs({ args: argv, options: { messages: { type: "string" } } });
    n = Number(values.messages ?? "100000");
    if (!Number.isSafeInteger(n) || n < 10_000) {
      throw new RangeError(`--messages must be an integer >= 10000, got "${values.messages}"`);
    }
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const prefix = `b${crypto.randomUUID().slice(0, 8)}-agent-queue-`;
  const topic = topicFor("coder", prefix);
  const kit = new KafkaAdapter({ brokers: bootstrapServers(), clientId: "bench", log: "error" });
  const dataDir = await Deno.makeTempDir({ prefix: "observer-bench-" });
  try {
    await kit.createTopics([topic], 4);
    const value = encodeEnvelope(createEnvelope({
      type: "HEARTBEAT",
      source: "writer",
      target: "coder",
      conversation_id: "bench",
      task_id: "bench",
      payload: { text: "x".repeat(200) },
    }));
    for (let sent = 0; sent < n; sent += 5_000) {
      await kit.send(topic, Array.from({ length: Math.min(5_000, n - sent) }, () => ({ value })));
    }

    // 1. bare consumer that only counts
    let counted = 0;
    const done = Promise.withResolvers<void>();
    const t0 = performance.now();
    const feed = await kit.feed({
      groupId: `${prefix}bench-bare`,
      topics: [topic],
      start: [0, 1, 2, 3].map((partition) => ({ topic, partition, offset: "0" })),
      onBatch: (records) => {
        counted += records.length;
        if (counted >= n) done.resolve();
        return Promise.resolve();
      },
    });
    await done.promise;
    const bareRate = n / ((performance.now() - t0) / 1000);
    await feed.stop();

    // 2. the observer
    const env: Record<string, string> = {
      KAFKA_TOPIC_PREFIX: prefix,
      TELEMETRY_DATA_DIR: dataDir,
      OBSERVER_QUEUE_POLL_MS: "60000",
      SNAPSHOT_INTERVAL: "60",
    };
    const config = loadConfig({ get: (k) => env[k] ?? Deno.env.get(k) });
    const observer = await Observer.open(config, kit);
    const latencies: number[] = [];
    let rss10k = 0;
    let peak = 0;
    observer.subscribe((records) => {
      const now = Date.now();
      for (const r of records) {
        if (r.type === "message" && r.kafka_timestamp !== null) {
          latencies.push(now - Date.parse(r.kafka_timestamp));
        }
      }
      const rss = Deno.memoryUsage().rss;
      peak = Math.max(peak, rss);
      if (rss10k === 0 && observer.recorder.state.messagesSeen >= 10_000) rss10k = rss;
    });
    const t1 = performance.now();
    observer.start();
    while (observer.diff.durableSeq === 0 || observer.recorder.state.messagesSeen < n) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await observer.diff.flush();
    const observerRate = n / ((performance.now() - t1) / 1000);
    await observer.stop();
    latencies.sort((a, b) => a - b);
    console.log(JSON.stringify(
      {
        messages: n,
        bare_consumer_msgs_per_s: Math.round(bareRate),
        observer_msgs_per_s: Math.round(observerRate),
        ratio: Number((observerRate / bareRate).toFixed(2)),
        note_latency:
          "production-to-disk includes the backlog: all messages were produced before reading",
        production_to_disk_ms: {
          median: percentile(latencies, 0.5),
          p99: percentile(latencies, 0.99),
        },
        rss_mib_after_10k: Math.round(rss10k / 2 ** 20),
        rss_mib_peak: Math.round(peak / 2 ** 20),
      },
      null,
      2,
    ));
  } finally {
    await kit.deleteTopics([topic]).catch(() => {});
    await kit.deleteGroups([`${prefix}bench-bare`, `${prefix}telemetry-observer`]);
    await kit.close();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
  return 0;
}

Deno.exit(await main(Deno.args));
