// deno-lint-ignore-file explicit-module-boundary-types -- JSDoc types it (npm run check: tsc)
/**
 * FOREIGN_FAULTS, the faults the eval asks this system to inject in itself: a comma-separated
 * list of `agent=fault`, a fault being `fail429(every=N)`, `slow(ms=N)` or `input_required`
 * (`summarizer=fail429(every=3),search=slow(ms=5000)`). An agent may be named more than once.
 */

/**
 * @typedef {{ kind: "fail429", every: number }
 *   | { kind: "slow", ms: number }
 *   | { kind: "input_required" }} Fault
 */

/** What an upstream model API says when it rate-limits (the text of a `fail429` failure) */
export const RATE_LIMIT_TEXT = "OpenAI API error 429: Rate limit reached for requests";

const ENTRY = /^([a-z][a-z0-9_-]*)=([a-z][a-z0-9_]*)(?:\(([^()]*)\))?$/;

/**
 * Splits `list` at the commas outside parentheses
 * @param {string} list
 * @returns {string[]}
 */
function entries(list) {
  /** @type {string[]} */
  const out = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      out.push(list.slice(start, i));
      start = i + 1;
    }
  }
  out.push(list.slice(start));
  return out.map((e) => e.trim()).filter((e) => e !== "");
}

/**
 * The value of integer argument `name` of `entry`, at least `min`
 * @param {Map<string, string>} args
 * @param {string} name
 * @param {number} min
 * @param {string} entry
 * @returns {number}
 */
function integerArg(args, name, min, entry) {
  const raw = args.get(name);
  const value = Number(raw);
  if (raw === undefined || !Number.isSafeInteger(value) || value < min) {
    throw new SyntaxError(
      `Cannot parse FOREIGN_FAULTS entry "${entry}": ${name} must be an integer of at least ${min}`,
    );
  }
  return value;
}

/**
 * One fault from its name and `key=value` arguments
 * @param {string} name
 * @param {Map<string, string>} args
 * @param {string} entry
 * @returns {Fault}
 */
function faultOf(name, args, entry) {
  switch (name) {
    case "fail429":
      return { kind: "fail429", every: integerArg(args, "every", 1, entry) };
    case "slow":
      return { kind: "slow", ms: integerArg(args, "ms", 0, entry) };
    case "input_required":
      return { kind: "input_required" };
    default:
      throw new SyntaxError(
        `Cannot parse FOREIGN_FAULTS entry "${entry}": unknown fault "${name}", ` +
          "expected fail429(every=N), slow(ms=N) or input_required",
      );
  }
}

/**
 * The faults of every agent named in `list`; throws a SyntaxError quoting the first bad entry
 * @param {string | undefined} list
 * @returns {Map<string, Fault[]>}
 */
export function parseFaults(list) {
  /** @type {Map<string, Fault[]>} */
  const byAgent = new Map();
  for (const entry of entries(list ?? "")) {
    const m = ENTRY.exec(entry);
    if (m === null || m[1] === undefined || m[2] === undefined) {
      throw new SyntaxError(
        `Cannot parse FOREIGN_FAULTS entry "${entry}": expected agent=fault or agent=fault(k=v)`,
      );
    }
    /** @type {Map<string, string>} */
    const args = new Map();
    for (const pair of (m[3] ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "")) {
      const eq = pair.indexOf("=");
      if (eq <= 0) {
        throw new SyntaxError(`Cannot parse FOREIGN_FAULTS entry "${entry}": expected k=v`);
      }
      args.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const faults = byAgent.get(m[1]) ?? [];
    faults.push(faultOf(m[2], args, entry));
    byAgent.set(m[1], faults);
  }
  return byAgent;
}

/** How the faults of one agent play out, task by task (a fail429 counts the process's tasks) */
export class FaultPlan {
  #tasks = 0;

  /** @param {readonly Fault[]} faults */
  constructor(faults) {
    this.faults = faults;
  }

  /**
   * What the next task does: how long it waits first, then whether it fails or waits on a person
   * @returns {{ delayMs: number, outcome: "ok" | "rate_limited" | "input_required" }}
   */
  next() {
    const n = ++this.#tasks;
    let delayMs = 0;
    /** @type {"ok" | "rate_limited" | "input_required"} */
    let outcome = "ok";
    for (const f of this.faults) {
      if (f.kind === "slow") delayMs += f.ms;
      else if (f.kind === "input_required") outcome = "input_required";
      else if (n % f.every === 0 && outcome === "ok") outcome = "rate_limited";
    }
    return { delayMs, outcome };
  }
}
