/** The observer's diff history as it grows, for scenarios that wait on a record on disk. */

import { type DiffRecord, validateDiffRecord } from "@mat/observer";
import { until } from "./until.ts";

/** The observer's diff history, read as it grows (complete lines only) */
export class HistoryTail {
  readonly records: DiffRecord[] = [];
  #offset = 0;
  #rest = new Uint8Array(0);

  constructor(readonly path: string) {}

  async refresh(): Promise<DiffRecord[]> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return this.records;
      throw err;
    }
    try {
      await file.seek(this.#offset, Deno.SeekMode.Start);
      const chunks: Uint8Array[] = [this.#rest];
      const buf = new Uint8Array(1 << 20);
      for (;;) {
        const n = await file.read(buf);
        if (n === null || n === 0) break;
        chunks.push(buf.slice(0, n));
        this.#offset += n;
      }
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      const end = all.lastIndexOf(10);
      this.#rest = all.slice(end + 1);
      if (end < 0) return this.records;
      for (const line of new TextDecoder().decode(all.subarray(0, end)).split("\n")) {
        if (line === "") continue;
        const parsed = validateDiffRecord(JSON.parse(line));
        if (parsed.ok) this.records.push(parsed.record);
      }
    } finally {
      file.close();
    }
    return this.records;
  }

  /** Waits for a record that satisfies `test` */
  async waitFor<R extends DiffRecord>(
    what: string,
    test: (r: DiffRecord) => r is R,
    timeoutMs?: number,
  ): Promise<R>;
  async waitFor(
    what: string,
    test: (r: DiffRecord) => boolean,
    timeoutMs?: number,
  ): Promise<DiffRecord>;
  async waitFor(
    what: string,
    test: (r: DiffRecord) => boolean,
    timeoutMs = 60_000,
  ): Promise<DiffRecord> {
    return await until(what, async () => (await this.refresh()).find(test), timeoutMs);
  }

  /** Waits until `count` records satisfy `test` */
  async waitForCount(
    what: string,
    test: (r: DiffRecord) => boolean,
    count: number,
    timeoutMs = 60_000,
  ): Promise<void> {
    await until(
      what,
      async () => (await this.refresh()).filter(test).length >= count ? true : undefined,
      timeoutMs,
    );
  }
}
