/**
 * The diff records an HTTP client asks for: a page of them after a seq (`GET /events`), or a
 * server-sent event stream (`GET /events/stream`) that replays the history after a seq, then
 * follows each new record as it becomes durable.
 *
 * Each write to the stream waits for the client (Hono's `streamSSE`). The replay is read from
 * memory or the files as the client takes it; new records wait in a queue of their own per
 * client, and a client that lets that queue pass `SSE_BUFFER_BYTES` is too slow for the flow: the
 * queue is dropped and the stream ends with an `overflow` event naming the last seq the client
 * was sent, so the observer's memory stays bounded and the client, resuming from there
 * (`Last-Event-ID` or `?since=`), loses nothing.
 */

import type { SSEStreamingApi } from "hono/streaming";
import type { Observer } from "./observer.ts";
import { DIFF_FILE_BASE, type DiffRecord, validateDiffRecord } from "./record_format.ts";
import { readHistory } from "./time_machine_reader.ts";

/**
 * Bytes of new events (the length of their JSON) a stream client may have waiting before it is
 * sent `overflow`
 */
export const SSE_BUFFER_BYTES = 4 * 1024 * 1024;

/** Idle time after which the stream carries a comment line, so proxies keep it open */
export const SSE_KEEP_ALIVE_MS = 15_000;

/** Records read from memory or the files at a time while a stream replays the history */
const REPLAY_BATCH = 5_000;

/** Records with seq > `since`, from memory when recent enough, else from the files */
export async function eventsSince(
  observer: Observer,
  since: number,
  limit: number,
): Promise<DiffRecord[]> {
  const oldest = observer.recent[0];
  if (oldest !== undefined && oldest.seq <= since + 1) {
    return observer.recent.filter((r) => r.seq > since).slice(0, limit);
  }
  const out: DiffRecord[] = [];
  for await (const value of readHistory(observer.config.dataDir, DIFF_FILE_BASE, since)) {
    const parsed = validateDiffRecord(value);
    if (!parsed.ok) continue;
    if (parsed.record.seq > observer.diff.durableSeq) break;
    out.push(parsed.record);
    if (out.length >= limit) break;
  }
  return out;
}

export interface EventStreamOptions {
  bufferBytes?: number;
  keepAliveMs?: number;
}

/** A new record waiting for its client, its `data` line made once */
interface Waiting {
  seq: number;
  type: string;
  data: string;
}

/**
 * Writes the diff records after `since` to `stream`, then each new one, until the client goes or
 * falls `bufferBytes` behind (then an `overflow` event with `resume_since` ends the stream)
 */
export async function streamEvents(
  observer: Observer,
  since: number,
  stream: SSEStreamingApi,
  options: EventStreamOptions = {},
): Promise<void> {
  const bufferBytes = options.bufferBytes ?? SSE_BUFFER_BYTES;
  const keepAliveMs = options.keepAliveMs ?? SSE_KEEP_ALIVE_MS;
  /** The last seq written to the stream */
  let last = since;
  /** New records not written yet: `waiting[head]` on; their JSON's length adds up to `waitingBytes` */
  let waiting: Waiting[] = [];
  let head = 0;
  let waitingBytes = 0;
  let overflowed = false;
  let wake: (() => void) | undefined;
  // Subscribed before the replay reads up to what is durable now: nothing falls between the two
  const unsubscribe = observer.subscribe((records) => {
    if (overflowed) return;
    for (const r of records) {
      const data = JSON.stringify(r);
      waiting.push({ seq: r.seq, type: r.type, data });
      waitingBytes += data.length;
    }
    if (waitingBytes > bufferBytes) {
      overflowed = true;
      waiting = [];
      head = 0;
      waitingBytes = 0;
    }
    wake?.();
  });
  stream.onAbort(() => wake?.());
  const write = async (seq: number, type: string, data: string) => {
    if (seq <= last) return;
    await stream.writeSSE({ id: String(seq), event: type, data });
    last = seq;
  };
  /** Resolves when a record comes, the client goes, or `keepAliveMs` passes ("idle") */
  const nextRecord = () => {
    const { promise, resolve } = Promise.withResolvers<"woken" | "idle">();
    const timer = setTimeout(() => resolve("idle"), keepAliveMs);
    wake = () => {
      clearTimeout(timer);
      resolve("woken");
    };
    return promise.finally(() => (wake = undefined));
  };
  try {
    const until = observer.diff.durableSeq;
    while (!stream.aborted && !overflowed && last < until) {
      const batch = await eventsSince(observer, last, REPLAY_BATCH);
      if (batch.length === 0) break;
      for (const r of batch) {
        if (stream.aborted || overflowed) break;
        await write(r.seq, r.type, JSON.stringify(r));
      }
    }
    while (!stream.aborted) {
      if (overflowed) {
        await stream.writeSSE({ event: "overflow", data: JSON.stringify({ resume_since: last }) });
        return;
      }
      const next = waiting[head];
      if (next === undefined) {
        waiting = [];
        head = 0;
        if (await nextRecord() === "idle") await stream.write(": ping\n\n");
        continue;
      }
      head++;
      waitingBytes -= next.data.length;
      // What was written is let go of, whether or not the queue ever runs dry
      if (head >= 1_024 && head * 2 >= waiting.length) {
        waiting = waiting.slice(head);
        head = 0;
      }
      await write(next.seq, next.type, next.data);
    }
  } finally {
    unsubscribe();
  }
}
