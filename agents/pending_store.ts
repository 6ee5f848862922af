/**
 * The tasks an agent has accepted and not finished yet, kept on disk so that their offsets can be
 * committed at once (the committed offset does not stand still for the length of a conversation)
 * and a process that dies resumes them after its restart. One JSON line per event, `accept` synced
 * before the task's offset is committed; `finish` after its reply is in the done store.
 */

import { type Envelope, parseEnvelope } from "./protocol/envelope.ts";
import { fileLines } from "./line_splitter.ts";

type PendingLine =
  | { op: "accept"; message_id: string; task: string }
  | { op: "finish"; message_id: string };

function parseLine(value: unknown): PendingLine | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const id = v["message_id"];
  if (typeof id !== "string") return undefined;
  if (v["op"] === "finish") return { op: "finish", message_id: id };
  if (v["op"] === "accept" && typeof v["task"] === "string") {
    return { op: "accept", message_id: id, task: v["task"] };
  }
  return undefined;
}

export class PendingStore {
  /** Accepted and unfinished tasks, as the text of their envelope, by message id */
  readonly #pending = new Map<string, string>();
  #file: Deno.FsFile | undefined;
  #tail: Promise<void> = Promise.resolve();
  readonly #encoder = new TextEncoder();

  private constructor(readonly path: string) {}

  /** Opens (creating) the store, keeping only what is unfinished; a torn or bad line is skipped */
  static async open(path: string): Promise<PendingStore> {
    const store = new PendingStore(path);
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || ".", { recursive: true });
    for await (const line of fileLines(path, { unterminated: "torn" })) {
      if (line.trim() === "") continue;
      let parsed: PendingLine | undefined;
      try {
        parsed = parseLine(JSON.parse(line));
      } catch {
        parsed = undefined;
      }
      if (parsed?.op === "accept") store.#pending.set(parsed.message_id, parsed.task);
      else if (parsed?.op === "finish") store.#pending.delete(parsed.message_id);
    }
    // Compacted at every start: only what is still to do
    const kept = [...store.#pending].map(([message_id, task]) =>
      JSON.stringify({ op: "accept", message_id, task }) + "\n"
    ).join("");
    await Deno.writeTextFile(`${path}.tmp`, kept);
    await Deno.rename(`${path}.tmp`, path);
    store.#file = await Deno.open(path, { append: true, create: true });
    return store;
  }

  has(messageId: string): boolean {
    return this.#pending.has(messageId);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** The tasks accepted before and not finished: what a restarted agent resumes */
  unfinished(): Envelope[] {
    const out: Envelope[] = [];
    for (const text of this.#pending.values()) {
      const parsed = parseEnvelope(new TextEncoder().encode(text));
      if (parsed.ok) out.push(parsed.envelope);
    }
    return out;
  }

  /** Records an accepted task and syncs it: after this its offset may be committed */
  async accept(task: Envelope, text: string): Promise<void> {
    this.#pending.set(task.message_id, text);
    await this.#append({ op: "accept", message_id: task.message_id, task: text }, true);
  }

  /** Records a task finished (its reply is in the done store); not synced: the done store is */
  async finish(messageId: string): Promise<void> {
    if (!this.#pending.delete(messageId)) return;
    await this.#append({ op: "finish", message_id: messageId }, false);
  }

  /** Appends a line; appends are serialised, so lines never interleave */
  #append(line: PendingLine, sync: boolean): Promise<void> {
    const write = async () => {
      const file = this.#file;
      if (file === undefined) throw new Error(`Pending store "${this.path}" is closed`);
      const bytes = this.#encoder.encode(JSON.stringify(line) + "\n");
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      if (sync) await file.syncData();
    };
    const done = this.#tail.then(write);
    // the caller gets `done` and its error; the queue's tail only orders the next write after it
    this.#tail = done.catch(() => {});
    return done;
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}
