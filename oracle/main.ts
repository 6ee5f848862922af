/**
 * `deno task oracle <command>`: the read-only CLI a coding agent runs to find the root cause.
 * Results on stdout; warnings (skipped lines) on stderr.
 *
 * Exit codes: 0 success, 1 runtime or data error, 2 usage error.
 */

import { DIFF_RECORD_TYPES, SEVERITIES } from "@mat/observer";
import { type Command, COMMANDS, DEFAULT_LIMITS, readInvocation, UsageError } from "./cli_args.ts";
import { RUNNERS } from "./commands.ts";
import type { Document } from "./output_document.ts";
import { boundedDocument, boundLists, OUTPUT_MAX_CHARS } from "./output_bound.ts";
import { validate } from "./json_schema.ts";
import { ANSI, PLAIN, renderText } from "./render_text.ts";
import { DataError, TimeMachine } from "./time_machine.ts";
import schema from "./schema/oracle_output.schema.json" with { type: "json" };
import { errorText } from "@mat/agents/support";

/** Words of a text in lines of at most `width` characters */
function wrap(text: string, width = 96): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  return [...lines, line].join("\n");
}

const GLOBAL_HELP = `Global options (anywhere on the line):
  -f, --format text|json   output format (default text); json is one document valid against
                           oracle/schema/oracle_output.schema.json
  -l, --limit N            rows at most in every list (each says how many it left out); without
                           it, lists are cut further to keep the JSON under ${
  OUTPUT_MAX_CHARS.toLocaleString("en-US")
} characters
      --data-dir DIR       time-machine files (default $TELEMETRY_DATA_DIR or ./telemetry_data)
  -h, --help               this help
Times: ISO 8601 with a zone (2026-11-24T18:00:00Z) or an age before now (90s, 10m, 2h, 1d).
Exit codes: 0 success, 1 runtime or data error, 2 usage error.`;

const HELP: Record<Command | "oracle", string> = {
  oracle: `Usage: deno task oracle <command> [options]

Reads the observer's time machine (diff_time_machine.jsonl, state_time_machine.jsonl) and
answers: what is broken, where, since when, with what evidence. Read-only; no network.

Commands:
  diagnose   ranked findings with evidence and next commands; start here
  errors     structured errors (-s SEVERITY, -a AGENT, --after T, --before T)
  replay     the events of a window, with the state at its start (-m MINUTES | --after/--before)
  queues     per agent queue: messages waiting, lag per partition, Burrow-style status, consumers
  diffs      raw events (-e TYPE, --after T, --before T)
  state      the state at any moment (--at T), from the nearest snapshot plus events
  trace ID   one conversation or task across agents, and the hop whose failure reached the user
  agents     each agent: status (from its processes), tasks, latency
  llm        tokens, cost, latency and errors per agent and model

${GLOBAL_HELP}

Example:
  deno task oracle diagnose --format json`,
  diagnose: `Usage: deno task oracle diagnose [options]

Ranked findings: kind, severity, agent, summary, since when, evidence (event seqs, Kafka
coordinates) and the next commands worth running. Top-level status: healthy, degraded (warnings
only), failing (an error or critical finding) or unknown (no incident, but the history cannot
support an answer: see reader_notes). Default --limit ${DEFAULT_LIMITS.diagnose}; the JSON stays
under 8,000 characters.

${GLOBAL_HELP}

Example:
  deno task oracle diagnose -f json`,
  errors: `Usage: deno task oracle errors [-s ${
    SEVERITIES.join("|")
  }] [-a AGENT] [--after T] [--before T] [-l N]

Structured errors folded by fingerprint (count, first and last seen, evidence), most severe and
newest first. With --after/--before, only errors seen in that window.

${GLOBAL_HELP}

Example:
  deno task oracle errors -s critical -a researcher --after 30m`,
  replay: `Usage: deno task oracle replay [-m MINUTES | --after T --before T] [-l N]

The events of a window, oldest first, with the state at the window's start. -m counts back from
the end of the history (not from the wall clock), so it works on an old copy too.

${GLOBAL_HELP}

Example:
  deno task oracle replay -m 10`,
  queues: `Usage: deno task oracle queues

Per agent queue and group: depth (the messages waiting for the group: each partition's end offset
minus its committed offset, summed), lag per partition, Burrow-style status (OK, WARN, STALL,
STOP, ERR) and consumers, as last sampled by the observer.

${GLOBAL_HELP}

Example:
  deno task oracle queues -f json`,
  diffs: `Usage: deno task oracle diffs [-e TYPE] [--after T] [--before T] [-l N]

${
    wrap(
      `Raw events of the diff history, oldest first. TYPE is a record type: ${
        DIFF_RECORD_TYPES.join(", ")
      }.`,
    )
  }

${GLOBAL_HELP}

Example:
  deno task oracle diffs -e handoff_stuck --format json`,
  state: `Usage: deno task oracle state [--at T]

The observer's state at any moment (default: the end of the history), rebuilt from the nearest
snapshot at or before it plus the events after that snapshot.

${GLOBAL_HELP}

Example:
  deno task oracle state --at 2026-11-24T18:00:00Z`,
  trace: `Usage: deno task oracle trace <conversation-or-task-id>

One request followed across agents: every handoff, its latency, retries and errors, and when the
request did not complete, the hop whose failure reached the user (blamed): followed back from the
request's reply along its sub-tasks, each by its last attempt.

${GLOBAL_HELP}

Example:
  deno task oracle trace conv-1a2b3c4d`,
  agents: `Usage: deno task oracle agents

Each agent: status (up while one of its processes runs, down when none does; from its consumer
group when no process was seen), last seen, tasks in flight, received, completed, failed, stuck,
latency, and its pods or processes.

${GLOBAL_HELP}

Example:
  deno task oracle agents`,
  llm: `Usage: deno task oracle llm [-a AGENT]

LLM usage per agent and model: calls, tokens, cost, average latency, errors and error rate.

${GLOBAL_HELP}

Example:
  deno task oracle llm -f json`,
};

function strictSchema(): boolean {
  const v = (Deno.env.get("ORACLE_STRICT_SCHEMA") ?? "true").toLowerCase();
  return !["false", "0", "no", "off"].includes(v);
}

function useColour(): boolean {
  return Deno.stdout.isTerminal() && Deno.env.get("NO_COLOR") === undefined;
}

export async function main(argv: string[]): Promise<number> {
  let inv;
  try {
    inv = await readInvocation(argv, Deno.env);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}`);
      console.error(`Run "deno task oracle --help" for usage`);
      return 2;
    }
    throw err;
  }
  if (inv.help) {
    const cmd = argv.find((a): a is Command => (COMMANDS as readonly string[]).includes(a));
    console.log(HELP[cmd ?? "oracle"]);
    return 0;
  }
  let tm: TimeMachine;
  let doc: Document;
  try {
    tm = await TimeMachine.open(inv.dataDir);
    const answer = await RUNNERS[inv.command](tm, inv);
    const report = { skipped_lines: tm.report.total, ...tm.report.toJson() };
    // diagnose cuts its own lists (diagnose.ts); every other answer has each of its lists cut
    doc = boundedDocument(
      (n) => {
        // What the read reported is bounded by itself (reader_notes.ts): never cut here
        const d = inv.command === "diagnose" ? answer(n) : boundLists(answer(n), n);
        return { ...d, ...report };
      },
      inv.limit,
      !inv.limitGiven && inv.command !== "diagnose",
    );
  } catch (err) {
    if (err instanceof DataError) {
      console.error(`error: ${err.message}`);
      return 1;
    }
    if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotFound) {
      console.error(`error: cannot read the time machine: ${err.message}`);
      return 1;
    }
    throw err;
  }
  for (const warning of tm.report.summary()) console.error(warning);
  if (tm.empty && inv.command !== "diagnose") {
    console.error(`warning: no history in "${inv.dataDir}" yet`);
  }
  if (inv.format === "json") {
    if (strictSchema()) {
      const problems = validate(schema, doc);
      if (problems.length > 0) {
        console.error(
          `error: output does not match oracle/schema/oracle_output.schema.json (ORACLE_STRICT_SCHEMA=true): ${
            problems.slice(0, 5).join("; ")
          }`,
        );
        return 1;
      }
    }
    console.log(JSON.stringify(doc));
  } else {
    await Deno.stdout.write(new TextEncoder().encode(renderText(doc, useColour() ? ANSI : PLAIN)));
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    Deno.exit(1);
  }
}
