/**
 * The oracle's command line: a command, its flags and the global ones (`--format/-f`,
 * `--data-dir`, `--limit/-l`, `--help/-h`) accepted anywhere on the line. Unknown flags and bad
 * values are usage errors (exit 2) with a one-line message.
 *
 * Flags are read as node:util's `parseArgs` reads them: by `quickFlags` when the line is plain,
 * else by `parseArgs` itself, loaded only then (`readInvocation`).
 */

import {
  DIFF_RECORD_TYPES,
  isDiffRecordType,
  isSeverity,
  SEVERITIES,
  type Severity,
} from "@mat/observer";
import { type FlagParser, type FlagSpec, FlagsUnsure, quickFlags } from "./quick_flags.ts";
import { parseTime } from "./time_spec.ts";
import { errorText } from "@mat/agents/support";

export const COMMANDS = [
  "diagnose",
  "errors",
  "replay",
  "queues",
  "diffs",
  "state",
  "trace",
  "agents",
  "llm",
] as const;
export type Command = typeof COMMANDS[number];

export class UsageError extends Error {
  override name = "UsageError";
}

export interface Invocation {
  command: Command;
  format: "text" | "json";
  dataDir: string;
  /** Rows at most in a list; always set (a default per command) */
  limit: number;
  /** `--limit` was given: the answer holds that many rows, however long it gets */
  limitGiven: boolean;
  help: boolean;
  severity?: Severity;
  agent?: string;
  eventType?: string;
  /** Milliseconds since the epoch */
  after?: number;
  before?: number;
  at?: number;
  minutes?: number;
  id?: string;
}

type OptionSpec = FlagSpec;

const GLOBAL: Record<string, OptionSpec> = {
  format: { type: "string", short: "f" },
  "data-dir": { type: "string" },
  limit: { type: "string", short: "l" },
  help: { type: "boolean", short: "h" },
};

const PER_COMMAND: Record<Command, Record<string, OptionSpec>> = {
  diagnose: {
    since: { type: "string" },
    after: { type: "string" },
    before: { type: "string" },
  },
  errors: {
    severity: { type: "string", short: "s" },
    agent: { type: "string", short: "a" },
    after: { type: "string" },
    before: { type: "string" },
  },
  replay: {
    minutes: { type: "string", short: "m" },
    after: { type: "string" },
    before: { type: "string" },
  },
  queues: {},
  diffs: {
    "event-type": { type: "string", short: "e" },
    after: { type: "string" },
    before: { type: "string" },
  },
  state: { at: { type: "string" } },
  trace: {},
  agents: {},
  llm: { agent: { type: "string", short: "a" } },
};

export const DEFAULT_LIMITS: Record<Command, number> = {
  diagnose: 10,
  errors: 20,
  replay: 50,
  queues: 50,
  diffs: 50,
  state: 20,
  trace: 50,
  agents: 50,
  llm: 50,
};

/** `replay -m` counts back at most this far (100 years), within what a Date can hold */
const MAX_MINUTES = 52_560_000;

function isCommand(value: string): value is Command {
  return (COMMANDS as readonly string[]).includes(value);
}

function time(flag: string, value: string, now: number): number {
  try {
    return parseTime(value, now);
  } catch (err) {
    throw new UsageError(`--${flag}: ${errorText(err)}`);
  }
}

/** The long name of every flag that takes a value, by each of its spellings */
const LONG_NAMES = new Map(
  [GLOBAL, ...Object.values(PER_COMMAND)].flatMap((spec) =>
    Object.entries(spec).filter(([, o]) => o.type === "string").flatMap(([long, o]) =>
      o.short ? [[`--${long}`, long], [`-${o.short}`, long]] : [[`--${long}`, long]]
    )
  ),
);

/** Flags that take a value, by every spelling, over all commands */
const VALUE_FLAGS = new Set(LONG_NAMES.keys());

/**
 * Joins each flag to a value that starts with a dash (`-l -5` becomes `--limit=-5`), so the value
 * is checked like any other; a flag followed by another option has no value, said with both
 */
function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const long = LONG_NAMES.get(a);
    const next = argv[i + 1];
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (long === undefined || next === undefined || !next.startsWith("-") || next === "-") {
      out.push(a);
      continue;
    }
    if (!/^-\d/.test(next)) {
      throw new UsageError(`--${long} needs a value, got the option "${next}"`);
    }
    out.push(`--${long}=${next}`);
    i++;
  }
  return out;
}

/** Where the command word is: the first token that is neither a flag nor a flag's value */
function commandIndex(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--") return i + 1 < argv.length ? i + 1 : -1;
    if (!a.startsWith("-") || a === "-") return i;
    if (VALUE_FLAGS.has(a)) i++;
  }
  return -1;
}

/**
 * Parses argv (after `oracle`) into an invocation, or throws UsageError; its flags read by
 * `parseFlags` (FlagsUnsure from `quickFlags`: a line for `parseArgs`)
 */
export function parseInvocation(
  args: string[],
  env: { get(key: string): string | undefined },
  now: number = Date.now(),
  parseFlags: FlagParser = quickFlags,
): Invocation {
  const argv = joinDashValues(args);
  const first = commandIndex(argv);
  const name = first < 0 ? undefined : argv[first];
  if (name === undefined) {
    if (argv.includes("--help") || argv.includes("-h")) {
      return {
        command: "diagnose",
        format: "text",
        dataDir: "",
        limit: 0,
        limitGiven: false,
        help: true,
      };
    }
    throw new UsageError(`a command is required: one of ${COMMANDS.join(", ")}`);
  }
  if (!isCommand(name)) {
    throw new UsageError(`unknown command "${name}": expected one of ${COMMANDS.join(", ")}`);
  }
  const rest = [...argv.slice(0, first), ...argv.slice(first + 1)];
  let parsed;
  try {
    parsed = parseFlags({
      args: rest,
      options: { ...GLOBAL, ...PER_COMMAND[name] },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    if (err instanceof FlagsUnsure) throw err;
    const msg = err instanceof Error ? err.message.split("\n")[0] ?? err.message : String(err);
    throw new UsageError(`${name}: ${msg.replace(/\. To specify.*$/, "")}`);
  }
  const v = parsed.values;
  const str = (k: string) => (typeof v[k] === "string" ? String(v[k]) : undefined);
  const positionals = parsed.positionals;
  if (name === "trace") {
    if (positionals.length !== 1 && v["help"] !== true) {
      throw new UsageError("trace needs exactly one conversation or task id");
    }
  } else if (positionals.length > 0) {
    throw new UsageError(`${name} takes no arguments, got "${positionals.join(" ")}"`);
  }
  const format = str("format") ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--format must be text or json, got "${format}"`);
  }
  const limitText = str("limit");
  const limit = limitText === undefined ? DEFAULT_LIMITS[name] : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
    throw new UsageError(`--limit must be a whole number from 1 to 100000, got "${limitText}"`);
  }
  const dataDir = str("data-dir");
  if (dataDir === "") throw new UsageError(`--data-dir must name a directory, got ""`);
  const inv: Invocation = {
    command: name,
    format,
    dataDir: dataDir ?? (env.get("TELEMETRY_DATA_DIR") || "./telemetry_data"),
    limit,
    limitGiven: limitText !== undefined,
    help: v["help"] === true,
  };
  const severity = str("severity");
  if (severity !== undefined) {
    if (!isSeverity(severity)) {
      throw new UsageError(
        `--severity must be one of ${SEVERITIES.join(", ")}, got "${severity}"`,
      );
    }
    inv.severity = severity;
  }
  const agent = str("agent");
  if (agent !== undefined) inv.agent = agent;
  const eventType = str("event-type");
  if (eventType !== undefined) {
    if (!isDiffRecordType(eventType)) {
      throw new UsageError(
        `--event-type must be a record type, one of ${
          DIFF_RECORD_TYPES.join(", ")
        }; got "${eventType}"`,
      );
    }
    inv.eventType = eventType;
  }
  const since = str("since");
  if (since !== undefined && str("after") !== undefined) {
    throw new UsageError("--since and --after say the same: give one of them");
  }
  const after = str("after") ?? since;
  if (after !== undefined) inv.after = time(since !== undefined ? "since" : "after", after, now);
  const before = str("before");
  if (before !== undefined) inv.before = time("before", before, now);
  const at = str("at");
  if (at !== undefined) inv.at = time("at", at, now);
  const minutes = str("minutes");
  if (minutes !== undefined) {
    const m = Number(minutes);
    if (!Number.isFinite(m) || m <= 0) {
      throw new UsageError(`--minutes must be a positive number, got "${minutes}"`);
    }
    if (m > MAX_MINUTES) {
      throw new UsageError(
        `--minutes must be at most ${MAX_MINUTES} (100 years), got "${minutes}"`,
      );
    }
    if (after !== undefined || before !== undefined) {
      throw new UsageError("--minutes cannot be combined with --after or --before");
    }
    inv.minutes = m;
  }
  if (inv.after !== undefined && inv.before !== undefined && inv.after >= inv.before) {
    const flag = since !== undefined ? "--since" : "--after";
    const how = inv.after === inv.before ? "the same time as" : "later than";
    throw new UsageError(`${flag} "${after}" is ${how} --before "${before}": the window is empty`);
  }
  if (positionals[0] !== undefined) inv.id = positionals[0];
  return inv;
}

/**
 * parseInvocation, its flags read by `quickFlags`, or by node:util's `parseArgs` (loaded then)
 * when the line is not plain
 */
export async function readInvocation(
  args: string[],
  env: { get(key: string): string | undefined },
  now: number = Date.now(),
): Promise<Invocation> {
  try {
    return parseInvocation(args, env, now);
  } catch (err) {
    if (!(err instanceof FlagsUnsure)) throw err;
  }
  const { parseArgs } = await import("node:util");
  return parseInvocation(args, env, now, parseArgs);
}
