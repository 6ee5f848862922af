/**
 * Where a history reader reports what it passed over (corrupt, torn and oversized lines, with their
 * places) and the lines it saw out of order; ReadReport is the oracle's, ReadStats counts.
 */

import type { ReaderNote } from "./reader_notes.ts";

/** Why a reader passed a line over */
export type LineSkip = "corrupt" | "torn" | "oversized";

/** A line whose time or seq is lower than the line before it */
export interface Disorder {
  path: string;
  offset: number;
  seq: number;
  ts: number;
  previousSeq: number;
  previousTs: number;
}

/** Where a reader reports the lines it passed over, and the lines out of order it saw */
export interface ReadSink {
  skip(kind: LineSkip, path: string, offset: number, reason: string): void;
  outOfOrder(disorder: Disorder): void;
  /** A problem of the history beside its lines (a gap in seq, a file that is not a file...) */
  note(note: ReaderNote): void;
}

/** Counts what reading skipped: for tests, and for reads whose lines are reported elsewhere */
export class ReadStats implements ReadSink {
  corrupt = 0;
  torn = 0;
  oversized = 0;
  disordered = 0;
  /** Where the first skipped lines were, as `file:byte` */
  readonly where: string[] = [];
  readonly notes: ReaderNote[] = [];

  skip(kind: LineSkip, path: string, offset: number): void {
    this[kind]++;
    if (this.where.length < 5) this.where.push(`${path}:${offset}`);
  }

  outOfOrder(): void {
    this.disordered++;
  }

  note(note: ReaderNote): void {
    this.notes.push(note);
  }
}

/** A sink that hears nothing: for probes, whose lines a real read reports */
export const QUIET: ReadSink = { skip: () => {}, outOfOrder: () => {}, note: () => {} };
