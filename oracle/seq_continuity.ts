/**
 * The check that a read saw every record: the observer gives each line of a history the next
 * `seq` (time_machine_writer.ts: `seq` grows by one per line, and a restart continues from the
 * last line on disk; a torn tail it cuts was never durable, and its seq is given again). Nothing
 * skips a seq but retention, which deletes the oldest segments whole: a history may start past
 * seq 1, never jump inside. So a read that sees seq N and then N + k (k > 1) lost k - 1 records: a
 * segment gone from the middle, lines deleted, or lines it could not read (reported as well).
 *
 * Fed the seq of every line a read meets, in file order, from the pass that reads the headers
 * (one comparison a line). A jump is held open while the read goes on, as records out of order
 * may fill it; what is still missing when the read ends is reported.
 */

import type { ReaderNote } from "./reader_notes.ts";

/** Seqs missing after `after` and before `next` (`next` is at `segment` and `offset`) */
export interface SeqGap {
  after: number;
  next: number;
  missing: number;
  segment: number;
  offset: number;
}

/** A gap as a reader note, at the line after it */
export function gapNote(g: SeqGap, segments: readonly { path: string }[]): ReaderNote {
  return {
    kind: "seq_gap",
    file: segments[g.segment]?.path ?? null,
    offset: g.offset,
    text: `seq jumps from ${g.after} to ${g.next}: ${g.missing} record(s) missing`,
  };
}

/** Gaps held open at once; past this, the oldest is reported as it stands */
const OPEN_GAPS = 64;

export class SeqContinuity {
  #max = NaN;
  #open: SeqGap[] = [];

  constructor(readonly report: (gap: SeqGap) => void) {}

  /** The seq of the next line read (at `segment`, `offset`) */
  see(seq: number, segment: number, offset: number): void {
    const max = this.#max;
    if (seq === max + 1) {
      this.#max = seq;
      return;
    }
    if (!(seq > max)) {
      if (Number.isNaN(max)) this.#max = seq;
      else this.#fill(seq);
      return;
    }
    this.#open.push({ after: max, next: seq, missing: seq - max - 1, segment, offset });
    if (this.#open.length > OPEN_GAPS) {
      const oldest = this.#open.shift();
      if (oldest !== undefined) this.report(oldest);
    }
    this.#max = seq;
  }

  /** A seq behind the highest seen: out of order, it fills an open gap if it falls in one */
  #fill(seq: number): void {
    for (const g of this.#open) {
      if (seq > g.after && seq < g.next) {
        g.missing--;
        return;
      }
    }
  }

  /** The read ended: reports every gap still missing records */
  end(): void {
    for (const g of this.#open) if (g.missing > 0) this.report(g);
    this.#open = [];
  }
}
