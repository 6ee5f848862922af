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

/** The FNV-1a hash of an id's UTF-16 code units */
export function idHash(id: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), FNV_PRIME);
  return h | 0;
}

/** Whether text holds `literal` at `at` */
function holds(text: string, at: number, literal: string): boolean {
  for (let k = 0; k < literal.length; k++) {
    if (text.charCodeAt(at + k) !== literal.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * Where the first `"key":"` (`marker`) of the line text[start, end) is, -1 when it has none.
 * Where the observer writes it, `expected`, it is checked first: the caller knows no earlier one
 * can be there.
 */
function markerAt(text: string, start: number, end: number, marker: string, expected: number) {
  if (expected >= 0 && holds(text, expected, marker)) return expected;
  const at = text.indexOf(marker, start);
  return at < 0 || at >= end ? -1 : at;
}

const MESSAGE_ID = '"task_message_id":"';
const TASK_ID = '"task_id":"';
const EMPTY = idHash("");
const COMMA = 0x2c;

export class ReplyLines {
  readonly #messageIds: number[] = [];
  readonly #taskIds: number[] = [];
  readonly #segments: number[] = [];
  readonly #offsets: number[] = [];
  readonly #lengths: number[] = [];
  /** Where the value `#valueHash` last read ends (its closing quote), -1 when it does not */
  #valueEnd = -1;

  /** The hash of the string value at `from` of text[.., end), read up to its closing quote */
  #valueHash(text: string, from: number, end: number): number {
    let h = FNV_OFFSET;
    for (let i = from; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.#valueEnd = i;
        return h | 0;
      }
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    this.#valueEnd = -1;
    return EMPTY;
  }

  /**
   * Notes a reply line, hashing its ids as `fieldOf` reads them: the string value of the first
   * `"task_message_id":"` (and `"task_id":"`) in the line, up to the next quote; the empty
   * string when either is missing. The observer writes both right after the type:
   * `..."type":"handoff_completed","task_message_id":"M","task_id":"T"`; with a one-character
   * version, the header before them cannot hold either marker (nor can M, which has no quote),
   * so when they are found there they are the first.
   */
  add(line: SkimmedLine): void {
    const { text, start, end, typeTo } = line;
    const standard = typeTo >= 0 && text.charCodeAt(start + 19) === COMMA;
    const m = markerAt(text, start, end, MESSAGE_ID, standard ? typeTo + 2 : -1);
    this.#valueEnd = -1;
    const messageId = m < 0 ? EMPTY : this.#valueHash(text, m + MESSAGE_ID.length, end);
    const mEnd = this.#valueEnd;
    const expected = standard && mEnd >= 0 && m === typeTo + 2 ? mEnd + 2 : -1;
    const t = markerAt(text, start, end, TASK_ID, expected);
    this.#messageIds.push(messageId);
    this.#taskIds.push(t < 0 ? EMPTY : this.#valueHash(text, t + TASK_ID.length, end));
    this.#segments.push(line.segment);
    this.#offsets.push(line.offset);
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
