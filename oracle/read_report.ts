/**
 * What reading the histories passed over or found out of order, each line counted once with its
 * place (file and byte offset), however many reads crossed it: the stderr warnings and the
 * `skipped` and `out_of_order` parts of every JSON document.
 */

import { escapeControl } from "./escape_control.ts";
import type { Disorder, LineSkip, ReadSink } from "./read_sink.ts";
import { type ReaderNote, ReaderNotes, type ReaderNotesJson } from "./reader_notes.ts";

/** Why a line was not used, in the order the summary names them */
export const SKIP_KINDS = [
  "corrupt",
  "torn",
  "oversized",
  "invalid",
  "newer",
  "seq_backwards",
] as const;
export type SkipKind = typeof SKIP_KINDS[number];

const SKIP_WORDS: Record<SkipKind, string> = {
  corrupt: "corrupt",
  torn: "torn (incomplete last line)",
  oversized: "oversized",
  invalid: "invalid",
  newer: "from a newer schema version",
  seq_backwards: "behind their snapshot (seq gone back)",
};

/** Places kept (and shown) of each list; the rest are counted */
export const PLACES_KEPT = 5;

export interface SkippedPlace {
  kind: SkipKind;
  file: string;
  offset: number;
  reason: string;
}

export interface DisorderPlace {
  file: string;
  offset: number;
  seq: number | null;
  ts: string | null;
  previous_seq: number | null;
  previous_ts: string | null;
}

export interface ReportJson {
  skipped: {
    by_kind: Record<SkipKind, number>;
    places: SkippedPlace[];
    places_omitted: number;
  };
  out_of_order: { records: number; places: DisorderPlace[]; places_omitted: number };
  reader_notes: ReaderNotesJson;
}

function iso(ms: number): string | null {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : null;
}

function num(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

/** A set of (file, offset) places */
class Places {
  readonly #byFile = new Map<string, Set<number>>();

  /** Adds a place; false when it was there already */
  add(file: string, offset: number): boolean {
    let offsets = this.#byFile.get(file);
    if (offsets === undefined) {
      offsets = new Set();
      this.#byFile.set(file, offsets);
    }
    if (offsets.has(offset)) return false;
    offsets.add(offset);
    return true;
  }
}

export class ReadReport implements ReadSink {
  readonly #counts = new Map<SkipKind, number>();
  readonly #skipped: SkippedPlace[] = [];
  readonly #skippedAt = new Places();
  #disordered = 0;
  readonly #disorder: DisorderPlace[] = [];
  readonly #disorderAt = new Places();
  readonly #notices: string[] = [];
  readonly #notes = new ReaderNotes();

  /** A line passed over; counted once per place */
  skip(kind: LineSkip | SkipKind, file: string, offset: number, reason: string): void {
    if (!this.#skippedAt.add(file, offset)) return;
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    if (this.#skipped.length < PLACES_KEPT) this.#skipped.push({ kind, file, offset, reason });
  }

  /** A line whose time or seq goes back; counted once per place */
  outOfOrder(d: Disorder): void {
    if (!this.#disorderAt.add(d.path, d.offset)) return;
    this.#disordered++;
    if (this.#disorder.length < PLACES_KEPT) {
      this.#disorder.push({
        file: d.path,
        offset: d.offset,
        seq: num(d.seq),
        ts: iso(d.ts),
        previous_seq: num(d.previousSeq),
        previous_ts: iso(d.previousTs),
      });
    }
  }

  /** Something the reader did because of what it skipped (one stderr line) */
  notice(text: string): void {
    if (!this.#notices.includes(text)) this.#notices.push(text);
  }

  /** A problem of the history beside its lines; counted once per kind, place and text */
  note(note: ReaderNote): void {
    this.#notes.add(note);
  }

  /** Whether a note means the answer may miss records (see reader_notes.ts) */
  get undermined(): boolean {
    return this.#notes.undermined;
  }

  /** The notes of problems kept, for the answer's own words (the first is the most telling) */
  get notes(): readonly ReaderNote[] {
    return this.#notes.kept;
  }

  count(kind: SkipKind): number {
    return this.#counts.get(kind) ?? 0;
  }

  /** Lines skipped, over both histories */
  get total(): number {
    let n = 0;
    for (const c of this.#counts.values()) n += c;
    return n;
  }

  get disordered(): number {
    return this.#disordered;
  }

  /** The first places skipped, as `file:offset` */
  get where(): string[] {
    return this.#skipped.map((p) => `${p.file}:${p.offset}`);
  }

  toJson(): ReportJson {
    const byKind = Object.fromEntries(SKIP_KINDS.map((k) => [k, this.count(k)]));
    return {
      skipped: {
        by_kind: byKind as Record<SkipKind, number>,
        places: this.#skipped.map((p) => ({ ...p })),
        places_omitted: this.total - this.#skipped.length,
      },
      out_of_order: {
        records: this.#disordered,
        places: this.#disorder.map((p) => ({ ...p })),
        places_omitted: this.#disordered - this.#disorder.length,
      },
      reader_notes: this.#notes.toJson(this.#summaryNotes()),
    };
  }

  /** The skipped lines, the records out of order and each notice as one note each */
  #summaryNotes(): ReaderNote[] {
    const out: ReaderNote[] = [];
    const lines = this.#summaryLines();
    const first = this.#skipped[0];
    if (this.total > 0 && lines.skipped !== undefined) {
      out.push({
        kind: "unreadable_lines",
        file: first?.file ?? null,
        offset: first?.offset ?? null,
        text: lines.skipped,
      });
    }
    const d = this.#disorder[0];
    if (this.#disordered > 0 && lines.disorder !== undefined) {
      out.push({
        kind: "out_of_order",
        file: d?.file ?? null,
        offset: d?.offset ?? null,
        text: lines.disorder,
      });
    }
    for (const n of this.#notices) out.push({ kind: "notice", file: null, offset: null, text: n });
    return out.map((n) => ({ ...n, text: escapeControl(n.text) }));
  }

  /** The text of the skipped lines' and the disordered records' warnings */
  #summaryLines(): { skipped?: string; disorder?: string } {
    const out: { skipped?: string; disorder?: string } = {};
    if (this.total > 0) {
      const parts = SKIP_KINDS.filter((k) => this.count(k) > 0).map((k) =>
        `${this.count(k)} ${SKIP_WORDS[k]}`
      );
      const where = this.where.slice(0, 3).join(", ");
      const reasons = [
        ...new Set(
          this.#skipped.filter((p) => !["corrupt", "torn"].includes(p.kind)).slice(0, 3).map((p) =>
            p.reason
          ),
        ),
      ];
      const why = reasons.length ? `; ${reasons.join("; ")}` : "";
      out.skipped = `skipped ${parts.join(", ")} line(s) at ${where}${why}`;
    }
    if (this.#disordered > 0) {
      const places = this.#disorder.slice(0, 3).map((p) => {
        const what = p.seq !== null && p.previous_seq !== null && p.seq <= p.previous_seq
          ? `seq goes back from ${p.previous_seq} to ${p.seq}`
          : `ts goes back from ${p.previous_ts ?? "?"} to ${p.ts ?? "?"}`;
        return `${p.file}:${p.offset} (${what})`;
      });
      out.disorder = `${this.#disordered} record(s) out of order at ${places.join(", ")}`;
    }
    return out;
  }

  /** The stderr warnings, one per line, control characters escaped */
  summary(): string[] {
    const out: string[] = [];
    const lines = this.#summaryLines();
    if (lines.skipped !== undefined) out.push(`warning: ${lines.skipped}`);
    for (const n of this.#notices) out.push(`warning: ${n}`);
    if (lines.disorder !== undefined) out.push(`warning: ${lines.disorder}`);
    for (const n of this.#notes.kept) {
      const place = n.file === null ? "" : ` (${n.file}${n.offset === null ? "" : `:${n.offset}`})`;
      out.push(`warning: ${n.text}${place}`);
    }
    const more = this.#notes.total - this.#notes.kept.length;
    if (more > 0) out.push(`warning: ${more} more reader note(s) not shown (see reader_notes)`);
    return out.map(escapeControl);
  }
}
