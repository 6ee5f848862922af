/**
 * What the reader found wrong with the history itself, beside the lines it skipped: files named
 * like a segment that are not regular files, seqs missing, times in the future or out of line,
 * snapshots that do not fit the diff history, windows that hold no record. Each is a note with
 * its place, counted by kind; the first NOTES_KEPT are kept, the rest counted. They are the
 * `reader_notes` of every JSON document and one `warning:` line each on stderr.
 *
 * Some kinds mean the answer may miss records (`undermines`): `diagnose` then says `unknown`
 * rather than `healthy`.
 */

export const NOTE_KINDS = [
  "unreadable_lines",
  "out_of_order",
  "not_a_file",
  "no_active_file",
  "empty_segment",
  "seq_gap",
  "bad_time",
  "snapshot_unfit",
  "window_empty",
  "notice",
] as const;
export type NoteKind = typeof NOTE_KINDS[number];

/**
 * The kinds after which the history cannot support "healthy": records are missing (a gap, a
 * segment that cannot be read, an active file gone) or the window holds none
 */
export const UNDERMINING: ReadonlySet<NoteKind> = new Set<NoteKind>([
  "not_a_file",
  "no_active_file",
  "empty_segment",
  "seq_gap",
  "window_empty",
]);

/** One problem, where it is (a file and byte offset, when it has one) */
export interface ReaderNote {
  kind: NoteKind;
  file: string | null;
  offset: number | null;
  text: string;
}

export interface ReaderNotesJson {
  /** Whether a note means the answer may miss records */
  undermined: boolean;
  by_kind: Record<NoteKind, number>;
  notes: ReaderNote[];
  total: number;
  omitted: number;
}

/** Notes kept (and shown) in full; the rest are counted */
export const NOTES_KEPT = 8;
/** A note's text is cut to this many characters (a path or a quoted value may be long) */
const TEXT_MAX = 300;

export class ReaderNotes {
  readonly #counts = new Map<NoteKind, number>();
  readonly #kept: ReaderNote[] = [];
  readonly #seen = new Set<string>();

  /** A problem; the same one (kind, place and text) is counted once */
  add(note: ReaderNote): void {
    const key = `${note.kind}\u0000${note.file ?? ""}\u0000${note.offset ?? ""}\u0000${note.text}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#counts.set(note.kind, (this.#counts.get(note.kind) ?? 0) + 1);
    if (this.#kept.length < NOTES_KEPT) {
      const text = note.text.length <= TEXT_MAX
        ? note.text
        : `${note.text.slice(0, TEXT_MAX - 3)}...`;
      this.#kept.push({ ...note, text });
    }
  }

  count(kind: NoteKind): number {
    return this.#counts.get(kind) ?? 0;
  }

  get total(): number {
    let n = 0;
    for (const c of this.#counts.values()) n += c;
    return n;
  }

  get undermined(): boolean {
    return [...UNDERMINING].some((k) => this.count(k) > 0);
  }

  get kept(): readonly ReaderNote[] {
    return this.#kept;
  }

  /**
   * The JSON of these notes with `extra` (the skipped lines, the records out of order and the
   * notices, one note each) ahead of them, within NOTES_KEPT
   */
  toJson(extra: ReaderNote[]): ReaderNotesJson {
    const byKind = Object.fromEntries(NOTE_KINDS.map((k) => [k, this.count(k)])) as Record<
      NoteKind,
      number
    >;
    for (const e of extra) byKind[e.kind]++;
    const total = this.total + extra.length;
    const notes = [...extra, ...this.#kept].slice(0, NOTES_KEPT);
    return {
      undermined: this.undermined,
      by_kind: byKind,
      notes,
      total,
      omitted: total - notes.length,
    };
  }
}

/** An empty set of notes, as a document's head starts with */
export function noNotes(): ReaderNotesJson {
  return new ReaderNotes().toJson([]);
}
