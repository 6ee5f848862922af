/** The observer's diff history as it grows, for scenarios that wait on a record on disk. */

import { fileChunks, splitLines } from "@mat/agents/lines";
import { type DiffRecord, validateDiffRecord } from "@mat/observer";
import { until } from "./until.ts";

/** The observer's diff history, read as it grows (complete lines only) */
export class HistoryTail {
  readonly records: DiffRecord[] = [];
  /** Where the first line not read yet starts */
  #offset = 0;

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
      const from = this.#offset;
      const chunks = fileChunks(file, { from, size: 1 << 20 });
      // A last line still being written is torn: it is read again, whole, next time.
      for await (const split of splitLines(chunks, { offset: from, unterminated: "torn" })) {
        if (split.kind !== "lines") continue;
        for (let i = 0; i < split.count; i++) {
          this.#offset = split.offset + (split.ends[i] ?? 0) + 1;
          const line = split.line(i);
          if (line === "") continue;
          const parsed = validateDiffRecord(JSON.parse(line));
          if (parsed.ok) this.records.push(parsed.record);
        }
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
