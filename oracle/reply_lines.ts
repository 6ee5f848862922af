/**
 * The reply lines of a read (`handoff_completed`, `handoff_failed`), noted in passing by the two
 * ids a later question names them by (`task_message_id`, `task_id`), so that the read need not be
 * made twice: once the question is known (the stuck tasks closed since, the tasks retried), only
 * the lines that may answer it are read again. Each id is kept as a 32-bit hash beside its line's
 * place, never as a string: a string cut from a read's text would hold the whole read in memory.
 * A hash may match an id it is not: the lines read again are checked on their text.
 */

import type { Cursor, SkimmedLine } from "./history_reader.ts";

/** A line to read again: `length` bytes at `cursor` */
export interface LinePlace {
  cursor: Cursor;
  length: number;
}

const QUOTE = 0x22;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a of the UTF-16 code units of text[from, to) */
function hash(text: string, from: number, to: number): number {
  let h = FNV_OFFSET;
  for (let i = from; i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h | 0;
}

/** The hash of a whole string */
export function idHash(id: string): number {
  return hash(id, 0, id.length);
}

/**
 * The hash of the string value of the first `"key":"` in text[start, end), as `fieldOf` reads it
 * from the line alone (up to the next quote; the empty string when either is missing)
 */
function fieldHash(text: string, start: number, end: number, marker: string): number {
  const at = text.indexOf(marker, start);
  if (at < 0 || at >= end) return idHash("");
  const from = at + marker.length;
  for (let i = from; i < end; i++) if (text.charCodeAt(i) === QUOTE) return hash(text, from, i);
  return idHash("");
}

const MESSAGE_ID = '"task_message_id":"';
const TASK_ID = '"task_id":"';

export class ReplyLines {
  readonly #messageIds: number[] = [];
  readonly #taskIds: number[] = [];
  readonly #segments: number[] = [];
  readonly #offsets: number[] = [];
  readonly #lengths: number[] = [];

  /** Notes a reply line */
  add(line: SkimmedLine): void {
    this.#messageIds.push(fieldHash(line.text, line.start, line.end, MESSAGE_ID));
    this.#taskIds.push(fieldHash(line.text, line.start, line.end, TASK_ID));
    this.#segments.push(line.cursor.segment);
    this.#offsets.push(line.cursor.offset);
    this.#lengths.push(line.length);
  }

  get size(): number {
    return this.#offsets.length;
  }

  /**
   * The places, in read order, of the lines whose `task_message_id` may be one of `messageIds`
   * or whose `task_id` may be one of `taskIds`
   */
  *candidates(messageIds: Iterable<string>, taskIds: Iterable<string>): Generator<LinePlace> {
    const messages = new Set([...messageIds].map(idHash));
    const tasks = new Set([...taskIds].map(idHash));
    for (let i = 0; i < this.#offsets.length; i++) {
      if (!messages.has(this.#messageIds[i] ?? 0) && !tasks.has(this.#taskIds[i] ?? 0)) continue;
      yield {
        cursor: { segment: this.#segments[i] ?? 0, offset: this.#offsets[i] ?? 0 },
        length: this.#lengths[i] ?? 0,
      };
    }
  }
}
