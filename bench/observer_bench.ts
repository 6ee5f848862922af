/**
 * `deno task bench observer [--messages N] [--rate R] [--seconds S]`: figures, not a test.
 *
 * 1. Throughput: produces N distinct envelopes (default 100000) to an isolated agent queue of 4
 *    partitions, then reads them (a) with a bare kafkajs consumer that only counts, (b) with the
 *    observer writing its time machine; prints both rates and their ratio, and the observer's
 *    resident memory after 10k messages and at its peak (flat memory: the two stay close).
 * 2. Latency: a fresh observer is caught up, then envelopes are produced at R msg/s (default
 *    2000) for S seconds (default 10); production-to-disk latency is the time from the record's
 *    Kafka timestamp to the moment the observer's fdatasync covering it returned (median, p99).
 *
 * Exit codes: 0 done, 2 usage error.
 */

import { parseArgs } from "node:util";
import { bootstrapServers, createEnvelope, encodeEnvelope, topicFor } from "@mat/agents";
import { KafkaAdapter } from "../observer/kafka_adapter.ts";
import { loadConfig } from "../observer/config.ts";
import { Observer } from "../observer/observer.ts";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

const MiB = 2 ** 20;

function envelopes(n: number, from: number): { value: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    value: encodeEnvelope(createEnvelope({
      type: "HEARTBEAT",
      source: "writer",
      target: "coder",
      conversation_id: `bench-${(from + i) % 100}`,
      task_id: `bench-${from + i}`,
      payload: { text: "x".repeat(200), n: from + i },
    })),
  }));
}

interface Args {
  messages: number;
  rate: number;
  seconds: number;
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string" },
    },
  });
  const messages = Number(values.messages ?? "100000");
  const rate = Number(values.rate ?? "2000");
  const seconds = Number(values.seconds ?? "10");
  if (!Number.isSafeInteger(messages) || messages < 10_000) {
    throw new RangeError(`--messages must be an integer >= 10000, got "${values.messages}"`);
  }
  if (!Number.isSafeInteger(rate) || rate < 10 || rate > 100_000) {
    throw new RangeError(`--rate must be an integer from 10 to 100000, got "${values.rate}"`);
  }
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > 3_600) {
    throw new RangeError(`--seconds must be an integer from 1 to 3600, got "${values.seconds}"`);
  }
  return { messages, rate, seconds };
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parse(argv);
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const n = args.messages;
  const prefix = `b${crypto.randomUUID().slice(0, 8)}-agent-queue-`;
  const topic = topicFor("coder", prefix);
  const kit = new KafkaAdapter({ brokers: bootstrapServers(), clientId: "bench", log: "error" });
  const dataDirs: string[] = [];
  const openObserver = async (name: string) => {
    const dataDir = await Deno.makeTempDir({ prefix: `observer-bench-${name}-` });
    dataDirs.push(dataDir);
    const env: Record<string, string> = {
      KAFKA_TOPIC_PREFIX: prefix,
      TELEMETRY_DATA_DIR: dataDir,
      OBSERVER_GROUP: `${prefix}${name}`,
      OBSERVER_QUEUE_POLL_MS: "60000",
      SNAPSHOT_INTERVAL: "60",
    };
    return await Observer.open(loadConfig({ get: (k) => env[k] ?? Deno.env.get(k) }), kit);
  };
  try {
    await kit.createTopics([topic], 4);
    for (let sent = 0; sent < n; sent += 5_000) {
      await kit.send(topic, envelopes(Math.min(5_000, n - sent), sent));
    }

    // 1a. bare consumer that only counts
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

    // 1b. the observer on the same backlog
    const observer = await openObserver("throughput");
    let rss10k = 0;
    let peak = 0;
    observer.subscribe(() => {
      const rss = Deno.memoryUsage().rss;
      peak = Math.max(peak, rss);
      if (rss10k === 0 && observer.recorder.state.messagesSeen >= 10_000) rss10k = rss;
    });
    const t1 = performance.now();
    observer.start();
    while (observer.recorder.state.messagesSeen < n) await new Promise((r) => setTimeout(r, 5));
    await observer.diff.flush();
    const observerRate = n / ((performance.now() - t1) / 1000);
    const linesPerMessage = observer.diff.linesWritten / n;
    await observer.stop();

    // 2. paced production, a caught-up observer: production-to-disk latency
    const paced = await openObserver("latency");
    const latencies: number[] = [];
    let pacedFrom = Infinity;
    paced.subscribe((records) => {
      const now = Date.now();
      for (const r of records) {
        if (r.type === "message" && r.kafka_timestamp !== null) {
          const produced = Date.parse(r.kafka_timestamp);
          if (produced >= pacedFrom) latencies.push(now - produced);
        }
      }
    });
    paced.start();
    while (paced.recorder.state.messagesSeen < n) await new Promise((r) => setTimeout(r, 20));
    pacedFrom = Date.now();
    const total = args.rate * args.seconds;
    const tick = 50; // ms between sends: rate / 20 envelopes each
    let sent = 0;
    const started = performance.now();
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * args.rate));
      if (due > sent) {
        await kit.send(topic, envelopes(due - sent, n + sent));
        sent = due;
      }
      await new Promise((r) => setTimeout(r, tick));
    }
    while (latencies.length < total) await new Promise((r) => setTimeout(r, 20));
    await paced.stop();
    latencies.sort((a, b) => a - b);

    console.log(JSON.stringify(
      {
        messages: n,
        bare_consumer_msgs_per_s: Math.round(bareRate),
        observer_msgs_per_s: Math.round(observerRate),
        ratio: Number((observerRate / bareRate).toFixed(2)),
        observer_lines_per_message: Number(linesPerMessage.toFixed(3)),
        rss_mib_after_10k: Math.round(rss10k / MiB),
        rss_mib_peak: Math.round(peak / MiB),
        paced: {
          rate_msgs_per_s: args.rate,
          messages: total,
          production_to_disk_ms: {
            median: percentile(latencies, 0.5),
            p99: percentile(latencies, 0.99),
            max: latencies.at(-1) ?? NaN,
          },
        },
      },
      null,
      2,
    ));
  } finally {
    await kit.deleteTopics([topic]).catch(() => {});
    await kit.deleteGroups([
      `${prefix}bench-bare`,
      `${prefix}throughput`,
      `${prefix}latency`,
    ]);
    await kit.close();
    for (const d of dataDirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
  return 0;
}

Deno.exit(await main(Deno.args));
