/**
 * `deno task eval [--only NAME,...] [--keep]`: runs the scenario corpus against the real broker,
 * observer and agents, asks `oracle diagnose` about each, and prints a table: per scenario the
 * rank of the expected cause, incidents and findings shown, false criticals, the JSON's size and
 * diagnose's time; then top-1 accuracy, mean precision and false criticals.
 *
 * It runs the local broker (started when none answers, stopped at the end if it started it),
 * because one scenario stops and starts it. Exit codes: 0 when every scenario's cause is ranked
 * first, every control is healthy and no false critical is shown; 1 otherwise; 2 usage error.
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { startKafka, stopKafka } from "../scripts/kafka.ts";
import { type Scenario, SCENARIOS } from "./scenarios.ts";
import { SCALE_SCENARIOS } from "./scale_scenarios.ts";
import { brokerPid } from "../scripts/kafka/broker_process.ts";
import { FOREIGN_SCENARIOS, type ForeignScenario } from "./foreign_scenarios.ts";
import { ForeignRun } from "./foreign/foreign_run.ts";
import { type Score, score, summarise } from "./score.ts";
import { System } from "./system.ts";
import type { Document } from "../oracle/output_document.ts";
import { renderText } from "../oracle/render_text.ts";
import { outputProblems } from "../oracle/output_schema.ts";
import { errorText, isRecord } from "@mat/agents/support";

/** A document the schema accepted: an object with the common head */
function isDocument(v: unknown): v is Document {
  return isRecord(v) && "command" in v;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What a scenario runs on: our own agents, or a system of another stack */
interface Running {
  dataDir: string;
  settle(): Promise<void>;
  agentLines(): string[];
  close(): Promise<void>;
}

type AnyScenario = Scenario | ForeignScenario;

interface Row {
  scenario: AnyScenario;
  score?: Score;
  chars: number;
  ms: number;
  error?: string;
  dir?: string;
}

async function diagnose(
  dataDir: string,
): Promise<{ doc: Record<string, unknown>; text: string; chars: number; ms: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", `${ROOT}oracle/main.ts`, "diagnose", "-f", "json"],
    env: { TELEMETRY_DATA_DIR: dataDir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  const stdout = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(`diagnose exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  }
  const value: unknown = JSON.parse(stdout);
  const problems = outputProblems(value);
  if (problems.length > 0 || !isDocument(value)) {
    throw new Error(`diagnose printed JSON outside its schema: ${problems.slice(0, 3).join("; ")}`);
  }
  const doc = value;
  return { doc, text: renderText(doc), chars: stdout.trim().length, ms };
}

/** What the agents printed, beside the history, for whoever looks into a wrong answer */
async function keepAgentLines(sys: Running): Promise<void> {
  await Deno.writeTextFile(`${sys.dataDir}/agents.log`, sys.agentLines().join("\n") + "\n")
    .catch((err) => console.error(`eval: cannot keep the agents' lines: ${errorText(err)}`));
}

function log(line: string): void {
  console.error(`eval: ${line}`);
}

async function runOne(scenario: AnyScenario, bootstrap: string, keep: boolean): Promise<Row> {
  log(`${scenario.name}: ${scenario.breaks}`);
  const began = performance.now();
  let sys: Running | undefined;
  const broker = {
    stop: async () => {
      if (!(await stopKafka({ log }))) {
        throw new Error(
          "Cannot stop the broker: the one answering was not started from this checkout " +
            "(stop it, and let deno task eval start its own)",
        );
      }
    },
    start: async () => {
      await startKafka({ log, stopOnFailure: true });
    },
    blip: async (ms: number) => {
      const pid = await brokerPid();
      if (pid === undefined) {
        throw new Error("Cannot freeze the broker: none was started from this checkout");
      }
      Deno.kill(pid, "SIGSTOP");
      log(`froze the broker (pid ${pid}) for ${ms} ms`);
      try {
        await new Promise((r) => setTimeout(r, ms)); // the blip is a duration
      } finally {
        Deno.kill(pid, "SIGCONT");
      }
    },
  };
  try {
    if ("foreign" in scenario) {
      const run = await ForeignRun.start(scenario.foreign, {
        bootstrap,
        log,
        ...(scenario.faults === undefined ? {} : { faults: scenario.faults }),
        ...(scenario.only === undefined ? {} : { only: scenario.only }),
        ...(scenario.observerEnv === undefined ? {} : { observerEnv: scenario.observerEnv }),
      });
      sys = run;
      await scenario.run({ sys: run, log });
      await run.settle();
      // Every record of a foreign system is read by a dialect
      const unread = run.malformed();
      if (unread > 0) {
        throw new Error(`${unread} record(s) of ${scenario.foreign.name} read by no dialect`);
      }
    } else {
      const own = await System.start({ bootstrap, log, ...scenario.system });
      sys = own;
      await scenario.run({ sys: own, broker, log });
    }
    await sys.settle();
    const d = await diagnose(sys.dataDir);
    const s = score(d.doc, scenario.expect);
    log(
      `${scenario.name}: ${s.ok ? "ok" : "WRONG"} (top: ${s.top}, status ${s.status}) in ${
        ((performance.now() - began) / 1000).toFixed(0)
      } s`,
    );
    if (!s.ok || keep) console.error(d.text.replace(/^/gm, "    "));
    if (!s.ok) await keepAgentLines(sys);
    return { scenario, score: s, chars: d.chars, ms: d.ms, dir: sys.dataDir };
  } catch (err) {
    const error = errorText(err);
    log(`${scenario.name}: FAILED to run: ${error}`);
    if (sys !== undefined) await keepAgentLines(sys);
    return { scenario, chars: 0, ms: 0, error, ...(sys ? { dir: sys.dataDir } : {}) };
  } finally {
    await sys?.close();
    // A scenario that stopped the broker and failed before starting it again must not sink the
    // rest.
    await broker.start().catch((err) => log(`cannot start the broker again: ${err}`));
  }
}

function expected(s: AnyScenario): string {
  return "status" in s.expect ? "healthy (control)" : `${s.expect.kind}:${s.expect.agent}`;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        only: { type: "string" },
        keep: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 2;
  }
  if (values.help) {
    console.log(`Usage: deno task eval [--only NAME,NAME...] [--keep]

Runs the scenario corpus (eval/scenarios.ts on our agents, eval/scale_scenarios.ts on ten of them
with replicas under load, eval/foreign_scenarios.ts on agent
systems of other stacks: A2A Python, A2A JS, a team's own JSON) against the real broker and
observer and scores what "oracle diagnose" answers. --keep keeps every scenario's history and prints every
diagnosis (by default only a wrong one's).

Example:
  deno task eval --only kill9-idle,control-clean-stop`);
    return 0;
  }
  const names = values.only?.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const all: AnyScenario[] = [...SCENARIOS, ...SCALE_SCENARIOS, ...FOREIGN_SCENARIOS];
  const unknown = names?.find((n) => !all.some((s) => s.name === n));
  if (unknown !== undefined) {
    console.error(`error: unknown scenario "${unknown}"`);
    return 2;
  }
  const chosen = names ? all.filter((s) => names.includes(s.name)) : all;
  Deno.env.delete("KAFKA_BOOTSTRAP_SERVERS");
  const kafka = await startKafka({ log, stopOnFailure: true });
  const rows: Row[] = [];
  try {
    for (const scenario of chosen) {
      const row = await runOne(scenario, kafka.bootstrap, values.keep);
      rows.push(row);
      if (row.dir && !values.keep && row.score?.ok) {
        // cleanup: the directory may not exist: nothing to remove
        await Deno.remove(row.dir, { recursive: true }).catch(() => {});
      } else if (row.dir) log(`${scenario.name}: history kept in ${row.dir}`);
    }
  } finally {
    if (kafka.started) await stopKafka({ log });
  }
  console.log(
    "| scenario | expected | top incident | rank | incidents | findings | false crit. | JSON chars | diagnose ms |",
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    const s = r.score;
    console.log(
      `| ${r.scenario.name} | ${expected(r.scenario)} | ${
        s ? s.top : `error: ${r.error?.slice(0, 60)}`
      } | ${s?.rank ?? "-"} | ${s?.incidents ?? "-"} | ${s?.findings ?? "-"} | ${
        s?.falseCriticals ?? "-"
      } | ${r.chars} | ${r.ms.toFixed(0)} |`,
    );
  }
  const scored = rows.map((r) =>
    r.score ?? {
      rank: null,
      incidents: 0,
      findings: 0,
      precision: 0,
      falseCriticals: 0,
      ok: false,
      status: "?",
      top: "-",
    }
  );
  const sum = summarise(scored);
  const failed = rows.filter((r) => !r.score?.ok).map((r) => r.scenario.name);
  console.log(
    `\n${sum.scenarios} scenarios: top-1 accuracy ${(sum.top1 * 100).toFixed(0)}%, precision ${
      sum.precision.toFixed(2)
    }, false criticals ${sum.falseCriticals}${
      failed.length ? `; wrong: ${failed.join(", ")}` : ""
    }`,
  );
  return failed.length === 0 && sum.falseCriticals === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
