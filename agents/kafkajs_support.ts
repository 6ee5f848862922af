/**
 * What every kafkajs adapter of the workspace shares: the filter for kafkajs's timer warning, the
 * decoding of record headers, JSON log lines on stderr, creating the topics that are missing and
 * closing clients. Exported as `@mat/agents/kafkajs`.
 */

import process from "node:process";
import type { Admin, LogEntry } from "kafkajs";
import { backoffMs } from "./backoff.ts";
import { isRecord } from "./is_record.ts";
import { sleep } from "./sleep.ts";

let filterInstalled = false;

/**
 * kafkajs schedules timers with negative delays (a known kafkajs quirk), which Node's timers
 * report as a TimeoutNegativeWarning on every poll. The delay is clamped to 1 ms either way: drop
 * that warning, and pass every other one to the listeners there were.
 */
export function silenceKafkaJsTimeoutWarnings(): void {
  if (filterInstalled) return;
  filterInstalled = true;
  const previous = process.listeners("warning");
  process.removeAllListeners("warning");
  process.on("warning", (warning: Error) => {
    if (warning.name === "TimeoutNegativeWarning") return;
    if (previous.length === 0) console.error(`warning: ${warning.message}`);
    for (const listener of previous) listener(warning);
  });
}

/** A kafkajs header value (string, bytes, or an array of them) as text */
export function headerText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (Array.isArray(value)) return headerText(value[0]);
  return undefined;
}

/** kafkajs's `ERROR` level (its `logLevel` enum), without importing kafkajs at run time */
const KAFKAJS_ERROR = 1;

/** A kafkajs `logCreator` writing one JSON object per line to stderr */
export function jsonLogCreator(clientId: string): () => (entry: LogEntry) => void {
  return () => (entry: LogEntry) => {
    const { message, ...rest } = entry.log;
    console.error(JSON.stringify({
      level: entry.level <= KAFKAJS_ERROR ? "error" : "warn",
      component: `kafkajs:${entry.namespace}`,
      client: clientId,
      msg: message,
      ...rest,
    }));
  };
}

/** Tries of `createMissingTopics` when the broker answers with a retriable error */
const TOPIC_TRIES = 6;

/**
 * Creates those of `topics` the broker lacks (one replica each) and waits until every partition of
 * every one has a leader; returns the ones it created. A broker just started may answer "does not
 * host this topic-partition" while leadership settles: retriable errors are tried again, the
 * topics listed anew each time (so none is created twice).
 */
export async function createMissingTopics(
  admin: Admin,
  topics: readonly string[],
  partitions: number,
): Promise<string[]> {
  const created: string[] = [];
  for (let attempt = 0;; attempt++) {
    try {
      const present = new Set(await admin.listTopics());
      const missing = topics.filter((topic) => !present.has(topic));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: partitions,
            replicationFactor: 1,
          })),
        });
        created.push(...missing);
      }
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      const leaderless = metadata.topics.filter((t) => t.partitions.some((p) => p.leader < 0));
      if (leaderless.length === 0) return created;
      if (attempt + 1 >= TOPIC_TRIES) {
        throw new Error(`Topics without a leader: ${leaderless.map((t) => t.name).join(", ")}`);
      }
    } catch (err) {
      if (!(isRecord(err) && err["retriable"] === true) || attempt + 1 >= TOPIC_TRIES) throw err;
    }
    await sleep(backoffMs(attempt, 200, 3_000));
  }
}

/** A kafkajs client: a consumer, a producer or an admin */
interface Disconnectable {
  disconnect(): Promise<void>;
}

/**
 * Disconnects every client, in order. A client that fails to disconnect has nothing left to send
 * or read: its error is ignored, so the others are still closed.
 */
export async function disconnectAll(clients: Iterable<Disconnectable | undefined>): Promise<void> {
  for (const client of clients) await client?.disconnect().catch(() => undefined);
}
