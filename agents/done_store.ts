/**
 * The tasks an agent has finished, kept on disk so that a task Kafka delivers again (after a
 * crash before its offset was committed, or a rebalance) is answered from the record instead of
 * being executed twice. One JSON line per finished task, synced before its reply is sent.
 */

import { fileLines } from "./line_splitter.ts";

export interface StoredReply {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

interface DoneLine {
  message_id: string;
  replies: StoredReply[];
}

function isDoneLine(value: unknown): value is DoneLine {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["message_id"] === "string" && Array.isArray(v["replies"]);
}

const KEEP = 10_000;

export class DoneStore {
  readonly #done = new Map<string, StoredReply[]>();
  #file: Deno.FsFile | undefined;
  readonly #encoder = new TextEncoder();

  private constructor(readonly path: string) {}

  /** Opens (creating) the store; a torn or corrupt line is skipped and the file compacted */
  static async open(path: string): Promise<DoneStore> {
    const store = new DoneStore(path);
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || ".", { recursive: true });
    let lines = 0;
    let bad = 0;
    let torn = false;
    const onPassed = () => {
      torn = true;
    };
    for await (const line of fileLines(path, { unterminated: "torn", onPassed })) {
      lines++;
      if (line.trim() === "") continue;
      try {
        const parsed: unknown = JSON.parse(line);
        if (isDoneLine(parsed)) store.#remember(parsed.message_id, parsed.replies);
        else bad++;
      } catch {
        bad++;
      }
    }
    if (bad > 0 || lines > 2 * KEEP || torn) {
      const kept = [...store.#done].map(([message_id, replies]) =>
        JSON.stringify({ message_id, replies }) + "\n"
      ).join("");
      await Deno.writeTextFile(`${path}.tmp`, kept);
      await Deno.rename(`${path}.tmp`, path);
    }
    store.#file = await Deno.open(path, { append: true, create: true });
    return store;
  }

  #remember(messageId: string, replies: StoredReply[]): void {
    this.#done.delete(messageId);
    this.#done.set(messageId, replies);
    if (this.#done.size > KEEP) {
      const oldest = this.#done.keys().next().value;
      if (oldest !== undefined) this.#done.delete(oldest);
    }
  }

  /** The replies sent for a finished task, or undefined if it never finished */
  get(messageId: string): StoredReply[] | undefined {
    return this.#done.get(messageId);
  }

  /** Records a finished task and syncs it to disk */
  async put(messageId: string, replies: StoredReply[]): Promise<void> {
    this.#remember(messageId, replies);
    if (this.#file === undefined) throw new Error(`Done store "${this.path}" is closed`);
    const bytes = this.#encoder.encode(JSON.stringify({ message_id: messageId, replies }) + "\n");
    let written = 0;
    while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
    await this.#file.syncData();
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}
