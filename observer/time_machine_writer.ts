/**
 * The append-only, crash-proof writer of one history (diff or state).
 *
 * - `append` gives a record its header (schema version, next `seq`, `ts`), serialises it and
 *   buffers it: it never touches the disk, so the Kafka loop is never slowed by it.
 * - Every `syncIntervalMs` (OBSERVER_SYNC_INTERVAL_MS, default 200 ms) the buffer is written with
 *   one write and made durable with fdatasync; only then are listeners told (`onDurable`), which
 *   is when the observer may commit Kafka offsets and publish events.
 * - A failed write (a full disk) is cut back to the last durable size, so no partial line stays
 *   in the file; the lines stay buffered and the write is retried; `health()` reports the failure.
 * - When the active file would grow past `segmentBytes`, it is closed, renamed to the next
 *   numbered segment, and a new active file begins with the segment header (if any). Then the
 *   oldest closed segments are deleted until the closed ones plus a full active segment fit in
 *   `retainBytes`; each deletion (or failure to delete) is told to `onSegmentDeleted`.
 * - `open` cuts a torn tail left by a crash, and continues `seq` from the last line on disk.
 */

import { RECORD_SCHEMA_VERSION } from "./record_format.ts";
import { cutTornTail } from "./torn_tail.ts";
import { activePath, closedPath, listSegments, syncDir } from "./segment_files.ts";
import { lastLine, seqOfLine } from "./time_machine_reader.ts";
import { errorText } from "@mat/agents/support";

export interface Header {
  schema_version: number;
  seq: number;
  ts: string;
}

export type Stamped<B> = Header & B;

export interface WriterOptions<B> {
  dir: string;
  base: string;
  segmentBytes: number;
  /** Bytes the history may take on disk, its active segment at full size included */
  retainBytes: number;
  syncIntervalMs: number;
  /** The first record of every new segment (the diff history records its positions there) */
  segmentHeader?: (segment: number) => B;
  /** Told of each segment retention deleted, or failed to delete (`error`) */
  onSegmentDeleted?: (deleted: SegmentDeleted) => void;
  now?: () => Date;
}

export interface SegmentDeleted {
  /** The file's name in the history's directory */
  file: string;
  bytes: number;
  /** The last seq it held, when it could be read */
  lastSeq: number | null;
  /** Why it could not be deleted (it stays, and is tried again at the next rotation) */
  error?: string;
}

export interface WriterHealth {
  ok: boolean;
  /** Why the last write failed, while it has not succeeded again */
  error?: string;
  /** Write+sync time of the last flush, in milliseconds */
  lastFlushMs: number;
}

const encoder = new TextEncoder();

/**
 * A buffered line keeps its text, encoded once per flush rather than per line. Until then its
 * size is estimated by its length (exact for ASCII, which JSON lines nearly always are); the
 * flush corrects the segment size by what the encoding really took.
 */
type Op<B> = { kind: "line"; text: string; record: Stamped<B> } | { kind: "rotate" };

/** The disk refused a write; the lines stay buffered and are retried */
export class WriteFailedError extends Error {
  override name = "WriteFailedError";
  constructor(message: string, readonly path: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export class TimeMachineWriter<B extends { type: string }> {
  readonly #options: WriterOptions<B>;
  readonly #now: () => Date;
  #file: Deno.FsFile;
  #segment: number;
  /** Bytes of the active file known to be on disk and whole */
  #diskSize: number;
  /** Size of the active segment counting the buffered lines: decides rotation */
  #logicalSize: number;
  #seq: number;
  #durableSeq: number;
  #ops: Op<B>[] = [];
  #pendingBytes = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #flushing: Promise<void> | undefined;
  #error: string | undefined;
  #lastFlushMs = 0;
  #listeners: ((records: Stamped<B>[]) => void)[] = [];
  #beforeFlush: (() => void)[] = [];
  #roomWaiters: { limit: number; resolve: () => void }[] = [];
  #closed = false;
  /** A failed write left bytes past `#diskSize` that are not cut yet */
  #cutPending = false;
  /** `ts` of the last record, reused while the clock reads the same millisecond */
  #lastTsMs = NaN;
  #lastTs = "";
  readonly tornBytesCut: number;
  bytesWritten = 0;
  linesWritten = 0;
  /** Flushes that wrote something, and their total write+sync time (for the metrics) */
  flushes = 0;
  flushMsTotal = 0;

  private constructor(
    options: WriterOptions<B>,
    file: Deno.FsFile,
    segment: number,
    size: number,
    seq: number,
    torn: number,
  ) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#file = file;
    this.#segment = segment;
    this.#diskSize = size;
    this.#logicalSize = size;
    this.#seq = seq;
    this.#durableSeq = seq;
    this.tornBytesCut = torn;
  }

  /** Opens a history for appending: cuts a torn tail, finds the last `seq`, starts the timer */
  static async open<B extends { type: string }>(
    options: WriterOptions<B>,
  ): Promise<TimeMachineWriter<B>> {
    await Deno.mkdir(options.dir, { recursive: true });
    const path = activePath(options.dir, options.base);
    const torn = await cutTornTail(path);
    const segments = await listSegments(options.dir, options.base);
    let seq = 0;
    for (let i = segments.length - 1; i >= 0 && seq === 0; i--) {
      const s = segments[i];
      if (s !== undefined) seq = seqOfLine(await lastLine(s.path)) ?? 0;
    }
    const closedMax = segments.filter((s) => !s.active).at(-1)?.number ?? 0;
    const file = await Deno.open(path, { append: true, create: true });
    const size = (await file.stat()).size;
    await syncDir(options.dir);
    const writer = new TimeMachineWriter(options, file, closedMax + 1, size, seq, torn);
    // a failed flush is kept in #error (health reports it, the next append throws it)
    writer.#timer = setInterval(() => void writer.flush().catch(() => {}), options.syncIntervalMs);
    return writer;
  }

  /** The `seq` of the last record appended (durable or not) */
  get lastSeq(): number {
    return this.#seq;
  }

  /** The `seq` of the last record known to be on disk */
  get durableSeq(): number {
    return this.#durableSeq;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  get segment(): number {
    return this.#segment;
  }

  health(): WriterHealth {
    return this.#error === undefined
      ? { ok: true, lastFlushMs: this.#lastFlushMs }
      : { ok: false, error: this.#error, lastFlushMs: this.#lastFlushMs };
  }

  /** Called as each flush begins: the last chance to append what must be durable with it */
  beforeFlush(listener: () => void): void {
    this.#beforeFlush.push(listener);
  }

  /** Called with the records of each flush once they are durable, in order */
  onDurable(listener: (records: Stamped<B>[]) => void): void {
    this.#listeners.push(listener);
  }

  #push(body: B): Stamped<B> {
    if (this.#closed) {
      throw new TypeError(`Cannot append to closed history "${this.#options.base}"`);
    }
    const now = this.#now();
    const ms = now.getTime();
    if (ms !== this.#lastTsMs) {
      this.#lastTsMs = ms;
      this.#lastTs = now.toISOString();
    }
    const record = {
      schema_version: RECORD_SCHEMA_VERSION,
      seq: this.#seq + 1,
      ts: this.#lastTs,
      ...body,
    } as Stamped<B>;
    const text = JSON.stringify(record) + "\n";
    this.#seq++;
    this.#ops.push({ kind: "line", text, record });
    this.#pendingBytes += text.length;
    this.#logicalSize += text.length;
    return record;
  }

  /** Stamps and buffers a record; it is durable after the next flush */
  append(body: B): Stamped<B> {
    if (this.#logicalSize >= this.#options.segmentBytes) {
      this.#ops.push({ kind: "rotate" });
      this.#segment++;
      this.#logicalSize = 0;
    }
    if (this.#logicalSize === 0 && this.#options.segmentHeader !== undefined) {
      this.#push(this.#options.segmentHeader(this.#segment));
    }
    return this.#push(body);
  }

  /**
   * Resolves once fewer than `limit` bytes wait for the disk. A full buffer is flushed at once
   * rather than at the next tick of the timer, so a backlog is written as fast as the disk goes.
   */
  waitForRoom(limit: number): Promise<void> {
    if (this.#pendingBytes < limit) return Promise.resolve();
    const waiter = Promise.withResolvers<void>();
    this.#roomWaiters.push({ limit, resolve: waiter.resolve });
    if (this.#flushing === undefined && this.#error === undefined) {
      // a failed flush is kept in #error (health reports it, the next append throws it)
      void this.flush().catch(() => {});
    }
    return waiter.promise;
  }

  /** Writes and fdatasyncs everything buffered; rejects (keeping the lines) when the disk fails */
  flush(): Promise<void> {
    if (this.#flushing !== undefined) {
      // One flush at a time; a caller asking now wants what it appended to be durable too.
      return this.#flushing.then(() => this.#ops.length > 0 ? this.flush() : undefined);
    }
    if (!this.#closed) { for (const l of this.#beforeFlush) l(); }
    if (this.#ops.length === 0) return Promise.resolve();
    this.#flushing = this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    const ops = this.#ops;
    this.#ops = [];
    const started = performance.now();
    const done: Stamped<B>[] = [];
    let i = 0;
    try {
      if (this.#cutPending) await this.#cutToDurable();
      while (i < ops.length) {
        const op = ops[i];
        if (op?.kind === "rotate") {
          await this.#rotate();
          i++;
          continue;
        }
        // Gather the lines up to the next rotation into one write.
        let j = i;
        const texts: string[] = [];
        let estimate = 0;
        while (j < ops.length) {
          const o = ops[j];
          if (o?.kind !== "line") break;
          texts.push(o.text);
          estimate += o.text.length;
          j++;
        }
        const chunk = encoder.encode(texts.join(""));
        const size = chunk.length;
        await this.#writeAll(chunk);
        // Non-ASCII text takes more bytes than its length: the active segment is that much larger
        // (unless a later rotation already started a new one).
        if (!ops.slice(j).some((o) => o.kind === "rotate")) this.#logicalSize += size - estimate;
        await this.#file.syncData();
        this.#diskSize += size;
        for (let k = i; k < j; k++) {
          const o = ops[k];
          if (o?.kind === "line") done.push(o.record);
        }
        this.bytesWritten += size;
        this.linesWritten += j - i;
        this.#pendingBytes -= estimate;
        i = j;
      }
      this.#error = undefined;
    } catch (err) {
      // Keep what did not make it, in order, ahead of anything appended meanwhile.
      this.#ops = [...ops.slice(i), ...this.#ops];
      // Cut the part of the line the disk took before anyone is told of the failure; if even
      // that fails, the next flush cuts it before it writes anything.
      this.#cutPending = true;
      // the next flush cuts the part line before it writes anything (#cutPending)
      await this.#cutToDurable().catch(() => {});
      this.#error = errorText(err);
      throw new WriteFailedError(
        `Cannot write history "${this.#options.base}": ${this.#error}`,
        activePath(this.#options.dir, this.#options.base),
        { cause: err },
      );
    } finally {
      this.#lastFlushMs = performance.now() - started;
      const last = done.at(-1);
      if (last !== undefined) {
        this.flushes++;
        this.flushMsTotal += this.#lastFlushMs;
        this.#durableSeq = last.seq;
        for (const l of this.#listeners) l(done);
      }
      this.#roomWaiters = this.#roomWaiters.filter((w) => {
        if (this.#pendingBytes < w.limit) {
          w.resolve();
          return false;
        }
        return true;
      });
    }
  }

  /** Cuts the active file back to its last durable size (a failed write may have left part of a line) */
  async #cutToDurable(): Promise<void> {
    await this.#file.truncate(this.#diskSize);
    this.#cutPending = false;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.#file.write(bytes.subarray(at));
  }

  async #rotate(): Promise<void> {
    const { dir, base } = this.#options;
    const active = activePath(dir, base);
    await this.#file.syncData();
    this.#file.close();
    const segments = await listSegments(dir, base);
    const next = (segments.filter((s) => !s.active).at(-1)?.number ?? 0) + 1;
    await Deno.rename(active, closedPath(dir, base, next));
    this.#file = await Deno.open(active, { append: true, create: true });
    this.#diskSize = 0;
    await syncDir(dir);
    await this.#retain();
  }

  /** Deletes the oldest closed segments until the history fits in `retainBytes` */
  async #retain(): Promise<void> {
    const { dir, base, retainBytes, segmentBytes } = this.#options;
    const closed: { path: string; bytes: number }[] = [];
    for (const s of await listSegments(dir, base)) {
      if (s.active) continue;
      const bytes = await Deno.stat(s.path).then((st) => st.size, () => 0);
      closed.push({ path: s.path, bytes });
    }
    let total = closed.reduce((n, s) => n + s.bytes, 0) + segmentBytes;
    for (const s of closed) {
      if (total <= retainBytes) break;
      // an unreadable segment only loses lastSeq from the notice; the delete is still tried
      const lastSeq = seqOfLine(await lastLine(s.path).catch(() => undefined)) ?? null;
      const file = s.path.slice(s.path.lastIndexOf("/") + 1);
      try {
        await Deno.remove(s.path);
        total -= s.bytes;
        this.#options.onSegmentDeleted?.({ file, bytes: s.bytes, lastSeq });
      } catch (err) {
        const error = errorText(err);
        this.#options.onSegmentDeleted?.({ file, bytes: s.bytes, lastSeq, error });
      }
    }
  }

  /** Flushes what is buffered and closes the file (the timer stops) */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      this.#file.close();
    }
  }
}
