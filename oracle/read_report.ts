/**
 * What reading the histories passed over or found out of order, each line counted once with its
 * place (file and byte offset), however many reads crossed it: the stderr warnings and the
 * `skipped` and `out_of_order` parts of every JSON document.
 */

import { escapeControl } from "./escape_control.ts";
import type { Disorder, LineSkip, ReadSink } from "./read_sink.ts";

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
    };
  }

  /** The stderr warnings, one per line, control characters escaped */
  summary(): string[] {
    const out: string[] = [];
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
      out.push(`warning: skipped ${parts.join(", ")} line(s) at ${where}${why}`);
    }
    for (const n of this.#notices) out.push(`warning: ${n}`);
    if (this.#disordered > 0) {
      const places = this.#disorder.slice(0, 3).map((p) => {
        const what = p.seq !== null && p.previous_seq !== null && p.seq <= p.previous_seq
          ? `seq goes back from ${p.previous_seq} to ${p.seq}`
          : `ts goes back from ${p.previous_ts ?? "?"} to ${p.ts ?? "?"}`;
        return `${p.file}:${p.offset} (${what})`;
      });
      out.push(`warning: ${this.#disordered} record(s) out of order at ${places.join(", ")}`);
    }
    return out.map(escapeControl);
  }
}
