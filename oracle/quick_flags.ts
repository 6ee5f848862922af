/**
 * The flags of a command line read as node:util's `parseArgs` reads them (strict, positionals
 * allowed), for lines made only of its plainest forms: `--name value`, `--name=value`, `-n value`,
 * `--flag`, `-f` and words. Any other line (`--`, a lone `-`, `-fvalue`, grouped or unknown flags,
 * a missing value or one starting with a dash) is not read here: `FlagsUnsure` says to read it
 * with `parseArgs`, whose messages are the usage errors. Loading node:util (Deno's Node
 * compatibility layer, with node:path) took 16 ms of the oracle's start, on every run.
 */

/** A flag as `parseArgs` is told of it */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
}

/** What `parseArgs` is given: the options by long name */
export interface FlagConfig {
  args: string[];
  options: Record<string, FlagSpec>;
  allowPositionals: true;
  strict: true;
}

/** What `parseArgs` returns */
export interface ParsedFlags {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** `parseArgs` of node:util, or a reader that reads as it does */
export type FlagParser = (config: FlagConfig) => ParsedFlags;

/** A line `quickFlags` leaves to `parseArgs` */
export class FlagsUnsure extends Error {
  override name = "FlagsUnsure";
}

/** A value as `parseArgs` takes it after its flag without a second thought */
function plainValue(value: string | undefined): value is string {
  return value !== undefined && !value.startsWith("-");
}

export function quickFlags({ args, options }: FlagConfig): ParsedFlags {
  const values: Record<string, string | boolean | undefined> = Object.create(null);
  const positionals: string[] = [];
  const longOf = new Map<string, string>();
  for (const [long, spec] of Object.entries(options)) {
    if (spec.short !== undefined) longOf.set(spec.short, long);
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (!arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const long = arg.startsWith("--")
      ? arg.slice(2, eq < 0 ? undefined : eq)
      : arg.length === 2
      ? longOf.get(arg.charAt(1))
      : undefined;
    const spec = long === undefined || long === ""
      ? undefined
      : Object.hasOwn(options, long)
      ? options[long]
      : undefined;
    if (long === undefined || spec === undefined || long === "__proto__") {
      throw new FlagsUnsure(arg);
    }
    if (spec.type === "boolean") {
      if (eq >= 0) throw new FlagsUnsure(arg);
      values[long] = true;
    } else if (eq >= 0) {
      values[long] = arg.slice(eq + 1);
    } else {
      const value = args[i + 1];
      if (!plainValue(value)) throw new FlagsUnsure(arg);
      values[long] = value;
      i++;
    }
  }
  return { values, positionals };
}
