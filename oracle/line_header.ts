/**
 * The header every record of the time machine starts with,
 * `{"schema_version":V,"seq":N,"ts":"T","type":"X"`, read without parsing the line: how the
 * history reader finds, counts and orders lines by the bytes it has in hand.
 *
 * A window's read looks at tens of thousands of headers, most only to pass the line over: the
 * header is compared a character at a time (a `startsWith` call costs about 100 ns, a line's five
 * of them more than the rest of its reading), and `readHeaderSpan` leaves the type in place for
 * `HeaderTypes` to match, without a string made of it.
 */

/** A line header (up to the type) fits in this many bytes */
export const HEADER_BYTES = 200;

const decoder = new TextDecoder();

/** What a line's header says, as `readHeader` fills it in */
export interface Header {
  seq: number;
  ts: number;
  type: string;
}

export const newHeader = (): Header => ({ seq: NaN, ts: NaN, type: "" });

/** What `readHeaderSpan` fills in: the type is text[typeFrom, typeTo) */
export interface HeaderSpan {
  seq: number;
  ts: number;
  typeFrom: number;
  typeTo: number;
}

export const newHeaderSpan = (): HeaderSpan => ({ seq: NaN, ts: NaN, typeFrom: 0, typeTo: 0 });

/** Whether text holds `literal` at `at` (`startsWith`, a character at a time) */
function holds(text: string, at: number, literal: string): boolean {
  for (let k = 0; k < literal.length; k++) {
    if (text.charCodeAt(at + k) !== literal.charCodeAt(k)) return false;
  }
  return true;
}

/** The digits of text[from, from + n) as a number; NaN if one is not a digit */
function digits(text: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (!(d >= 0 && d <= 9)) return NaN;
    v = v * 10 + d;
  }
  return v;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `YYYY-MM-DDTHH:MM:SS.sssZ` (what `toISOString` writes) in ms; NaN for any other form */
function isoMs(text: string, from: number, to: number): number {
  if (
    to - from !== 24 || text.charCodeAt(from + 4) !== 0x2d || text.charCodeAt(from + 7) !== 0x2d ||
    text.charCodeAt(from + 10) !== 0x54 || text.charCodeAt(from + 13) !== 0x3a ||
    text.charCodeAt(from + 16) !== 0x3a || text.charCodeAt(from + 19) !== 0x2e ||
    text.charCodeAt(from + 23) !== 0x5a
  ) return NaN;
  const year = digits(text, from, 4);
  const month = digits(text, from + 5, 2);
  const day = digits(text, from + 8, 2);
  const hour = digits(text, from + 11, 2);
  const minute = digits(text, from + 14, 2);
  const second = digits(text, from + 17, 2);
  const ms = digits(text, from + 20, 3);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS[month - 1] ?? 0;
  if (!(day >= 1 && day <= days && hour < 24 && minute < 60 && second < 60 && ms >= 0)) {
    return NaN;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** The first `c` in text[from, to), or -1: bounded, unlike indexOf on the whole text */
function find(text: string, c: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === c) return i;
  return -1;
}

const COMMA = 0x2c;
const QUOTE = 0x22;

/** The last second whose time was worked out, `YYYY-MM-DDTHH:MM:SS` (its characters), and its ms */
const SECOND_CHARS = 19;
const lastSecond = new Uint16Array(SECOND_CHARS);
let lastSecondMs = NaN;
let lastSecondSet = false;

function sameSecond(text: string, from: number): boolean {
  if (!lastSecondSet) return false;
  for (let k = 0; k < SECOND_CHARS; k++) {
    if (text.charCodeAt(from + k) !== lastSecond[k]) return false;
  }
  return true;
}

/**
 * A header time in ms: most lines of a history share their second with the line before, so only
 * the milliseconds are read then; any other form is left to Date.parse
 */
function timeAt(text: string, from: number, to: number): number {
  if (
    to - from === 24 && text.charCodeAt(from + 19) === 0x2e && text.charCodeAt(from + 23) === 0x5a
  ) {
    const ms = digits(text, from + 20, 3);
    if (!sameSecond(text, from)) {
      const whole = isoMs(text, from, to);
      if (Number.isNaN(whole)) return Date.parse(text.slice(from, to));
      for (let k = 0; k < SECOND_CHARS; k++) lastSecond[k] = text.charCodeAt(from + k);
      lastSecondSet = true;
      lastSecondMs = whole - ms;
    }
    return lastSecondMs + ms;
  }
  return Date.parse(text.slice(from, to));
}

/**
 * Reads the header `{"schema_version":V,"seq":N,"ts":"T","type":"X"` of the line text[from, to)
 * into `out`; false when the line does not start so (it is then parsed whole). Searches stay
 * within the header's first bytes, however long or broken the line.
 */
export function readHeader(text: string, from: number, to: number, out: Header): boolean {
  const span = scratch;
  if (!readHeaderSpan(text, from, to, span)) return false;
  out.seq = span.seq;
  out.ts = span.ts;
  out.type = text.slice(span.typeFrom, span.typeTo);
  return true;
}

const scratch = newHeaderSpan();

/**
 * The header as the observer writes it, up to its type's first character: a one-digit version,
 * a time as `toISOString` writes it. One test of this (native) pattern costs a third of the
 * character comparisons it stands for; a header it does not match is read in full.
 */
const WRITTEN =
  /\{"schema_version":\d,"seq":\d{1,15},"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","type":"/y;
/** Where a written header's seq starts, after `{"schema_version":V,"seq":` */
const SEQ_AT = 26;

/** readHeader, with the type left in place: text[out.typeFrom, out.typeTo) */
export function readHeaderSpan(text: string, from: number, to: number, out: HeaderSpan): boolean {
  WRITTEN.lastIndex = from;
  if (!WRITTEN.test(text)) return readAnyHeader(text, from, to, out);
  // What readAnyHeader would find in such a header: the pattern matched within the line (it
  // matches no newline) and within its first HEADER_BYTES.
  const typeStart = WRITTEN.lastIndex;
  const tsEnd = typeStart - 10;
  const tsStart = tsEnd - 24;
  let seq = 0;
  for (let i = from + SEQ_AT; i < tsStart - 7; i++) seq = seq * 10 + text.charCodeAt(i) - 0x30;
  const ts = timeAt(text, tsStart, tsEnd);
  if (Number.isNaN(ts)) return false;
  const typeEnd = find(text, QUOTE, typeStart, Math.min(to, from + HEADER_BYTES));
  if (typeEnd < 0) return false;
  out.seq = seq;
  out.ts = ts;
  out.typeFrom = typeStart;
  out.typeTo = typeEnd;
  return true;
}

/**
 * readHeaderSpan of any header, a character at a time, without the pattern: what readHeaderSpan
 * must agree with on every line
 */
export function readAnyHeader(text: string, from: number, to: number, out: HeaderSpan): boolean {
  const limit = Math.min(to, from + HEADER_BYTES);
  if (!holds(text, from, `{"schema_version":`)) return false;
  // One digit of version, as the observer writes; else the comma is looked for.
  let i = text.charCodeAt(from + 19) === COMMA ? from + 19 : find(text, COMMA, from + 18, limit);
  if (i < 0 || !holds(text, i, `,"seq":`)) return false;
  i += 7;
  const first = i;
  let seq = 0;
  for (; i < limit; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (!(d >= 0 && d <= 9)) break;
    seq = seq * 10 + d;
  }
  if (i === first || i - first > 15 || !holds(text, i, `,"ts":"`)) return false;
  const tsStart = i + 7;
  // 24 characters, as toISOString writes; else the closing quote is looked for.
  const tsEnd = text.charCodeAt(tsStart + 24) === QUOTE && tsStart + 24 < limit
    ? tsStart + 24
    : find(text, QUOTE, tsStart, limit);
  if (tsEnd < 0 || !holds(text, tsEnd, `","type":"`)) return false;
  const ts = timeAt(text, tsStart, tsEnd);
  if (Number.isNaN(ts)) return false;
  const typeStart = tsEnd + 10;
  const typeEnd = find(text, QUOTE, typeStart, limit);
  if (typeEnd < 0) return false;
  out.seq = seq;
  out.ts = ts;
  out.typeFrom = typeStart;
  out.typeTo = typeEnd;
  return true;
}

/** The first bytes of a line decoded: what its header can be read from */
export function headText(data: Uint8Array, from: number, to: number): string {
  return decoder.decode(data.subarray(from, Math.min(to, from + HEADER_BYTES)));
}

/** readHeader on the bytes of a line: its first bytes decoded */
export function readHeaderBytes(data: Uint8Array, from: number, to: number, out: Header): boolean {
  const head = headText(data, from, to);
  return readHeader(head, 0, head.length, out);
}
