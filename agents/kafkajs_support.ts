/**
 * What every kafkajs adapter of the workspace shares: the filter for kafkajs's timer warning, the
 * decoding of record headers, and JSON log lines on stderr. Exported as `@mat/agents/kafkajs`.
 */

import process from "node:process";
import type { LogEntry } from "kafkajs";

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
