/**
 * The document every command returns: the same head on each (schema, command, data directory,
 * the time it is as of, what reading skipped), then the command's own fields. `--format json`
 * prints it as it is; the text renderer prints the same data.
 */

import type { Invocation } from "./cli_args.ts";
import { ReadReport, type ReportJson } from "./read_report.ts";

export const OUTPUT_SCHEMA_ID = "oracle-output/v2";

export interface Document {
  schema: string;
  command: string;
  generated_at: string;
  data_dir: string;
  /** Time of the newest record taken into account */
  as_of: string | null;
  /** Lines skipped as unreadable while answering, in either history */
  skipped_lines: number;
  /** The same by kind, and where the first of them are */
  skipped: ReportJson["skipped"];
  /** Records whose time or seq goes back, and where the first of them are */
  out_of_order: ReportJson["out_of_order"];
  /** What the reader found wrong with the history (reader_notes.ts), one note per problem */
  reader_notes: ReportJson["reader_notes"];
  [key: string]: unknown;
}

/** A time (ms) as ISO 8601, null when there is none */
export function iso(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** The head of a command's document, as of a time (ms; NaN when nothing was read) */
export function head(inv: Invocation, asOf: number): Document {
  return {
    schema: OUTPUT_SCHEMA_ID,
    command: inv.command,
    generated_at: new Date().toISOString(),
    data_dir: inv.dataDir,
    as_of: iso(asOf),
    // Filled in once the command has read all it reads (main.ts)
    skipped_lines: 0,
    ...new ReadReport().toJson(),
  };
}

/** The first `limit` items of a list, and how many it left out */
export function cut<T>(items: T[], limit: number): { shown: T[]; omitted: number } {
  return { shown: items.slice(0, limit), omitted: Math.max(0, items.length - limit) };
}
