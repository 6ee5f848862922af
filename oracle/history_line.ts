/**
 * What a read of a history hands out and takes: places in it (`Cursor`), its lines (`Line`, parsed
 * on demand), the gate that decides on each line by its time, the tally that counts instead of
 * returning, and the skim that looks at lines in passing. The reading itself is history_reader.ts.
 */

export interface Segment {
  path: string;
  size: number;
  /** Whether it is the active file (the one the observer appends to) */
  active?: boolean;
}

/** A place in a history: a segment and a byte offset at the start of a line */
export interface Cursor {
  segment: number;
  offset: number;
}

const strict = new TextDecoder("utf-8", { fatal: true });
const lossy = new TextDecoder();

/**
 * Whether `bytes`, decoded as `text` with replacement characters, are valid UTF-8: only a text
 * holding U+FFFD (found at no cost in a text without it) is decoded again, strictly (six times the
 * cost of decoding)
 */
export function isUtf8(text: string, bytes: Uint8Array | undefined): boolean {
  if (!text.includes("\uFFFD") || bytes === undefined) return true;
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * One line of a history, with the `ts` (ms) and `seq` of its header (`seq` NaN when it has none).
 * `value()` parses it on demand (undefined when the line is not a JSON object, or not valid
 * UTF-8: its text is then decoded with replacement characters, and `invalidUtf8` says so).
 */
export class Line {
  #text: string | undefined;
  #bytes: Uint8Array | undefined;
  #value: Record<string, unknown> | null | undefined = null;
  #invalidUtf8 = false;

  constructor(
    text: string | Uint8Array,
    readonly ts: number,
    readonly seq: number,
    readonly cursor: Cursor,
  ) {
    if (typeof text === "string") this.#text = text;
    else this.#bytes = text;
  }

  get text(): string {
    if (this.#text === undefined) {
      const bytes = this.#bytes;
      this.#text = lossy.decode(bytes);
      this.#invalidUtf8 = !isUtf8(this.#text, bytes);
      this.#bytes = undefined;
    }
    return this.#text;
  }

  /** Whether its bytes are not valid UTF-8 (a line the observer did not write whole) */
  get invalidUtf8(): boolean {
    void this.text;
    return this.#invalidUtf8;
  }

  value(): Record<string, unknown> | undefined {
    if (this.#value === null) this.#value = this.invalidUtf8 ? undefined : parseObject(this.text);
    return this.#value;
  }
}

export function parseObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

/**
 * Decides on each line with a readable time, in order, before any other filter: keep it, skip
 * it, or stop reading. The line starts at byte `offset` of segment `segment`.
 */
export type Gate = (
  ts: number,
  seq: number,
  segment: number,
  offset: number,
) => "keep" | "skip" | "stop";

/** Set `counting` and the lines still to come are counted, not made and returned */
export interface Tally {
  counting: boolean;
  count: number;
}

/**
 * A line seen in passing by a skim: its text is `text.slice(start, end)` (`text` may hold more
 * than the line: no string is made for it), and it is `length` bytes at byte `offset` of segment
 * `segment`. Its header, as `readHeaderSpan` reads it, ends with the closing quote of its type at
 * `typeTo` in `text` (-1 when the line has no such header). A view, valid during the call only.
 */
export interface SkimmedLine {
  text: string;
  start: number;
  end: number;
  typeTo: number;
  segment: number;
  offset: number;
  length: number;
}

/**
 * Lines of some types that a read looks at without returning them: each line of those types
 * the gate keeps is shown to `visit`, whatever the read's own `types`, `prefilter` and `tally`
 */
export interface Skim {
  types: ReadonlySet<string>;
  visit(line: SkimmedLine): void;
}
