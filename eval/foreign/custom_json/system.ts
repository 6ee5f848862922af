/**
 * The custom-JSON system: agents written by a team with a JSON message format of its own (no A2A,
 * no CloudEvents, not our envelope), in Python with `confluent-kafka` 2.16.1 (librdkafka) from
 * PyPI. The observer reads it through the declared mapping `mapping.json` beside this file.
 *
 * - `dispatcher` (the entry agent) has `triage`, then `fixer` look at a job, then answers the
 *   requester, whose inbox is `desk`. `ops/format.py`'s header says what a record is;
 *   `ops/dispatcher.py`'s how jobs, steps, retries and failures go; `agent.py`'s the settings.
 * - Topics `ops.<run>.jobs.<agent>` (the desk's inbox too), created by whoever runs it (the eval,
 *   `PARTITIONS` partitions each): no client creates one. Groups `ops-<run>-<agent>-workers`; the
 *   client reads its inbox by assignment, in no group.
 * - `env(run)` sets the dispatcher's step timeout to the eval's own orchestrator's (4 s, 2 tries);
 *   a scenario that needs longer overrides OPS_STEP_TIMEOUT_MS.
 */

import { fileURLToPath } from "node:url";
import type { ForeignAnswer, ForeignSystem } from "../foreign_system.ts";
import { parseAnswerLine } from "../answer_line.ts";
import { PythonVenv } from "../python_venv.ts";

const VENV = new PythonVenv(
  "custom-json",
  fileURLToPath(new URL("./requirements.txt", import.meta.url)),
);

export const AGENTS = ["dispatcher", "triage", "fixer"] as const;
export const USER_INBOX = "desk";
/** Partitions of every topic the eval creates */
export const PARTITIONS = 3;
/** The observer's declared mapping for this system's records */
export const MAPPING = fileURLToPath(new URL("./mapping.json", import.meta.url));

const AGENT_PY = fileURLToPath(new URL("./agent.py", import.meta.url));
const CLIENT_PY = fileURLToPath(new URL("./client.py", import.meta.url));
/** A run id: a word that is safe in a topic name and a group id */
const RUN_ID = /^[A-Za-z0-9_-]{1,100}$/;
/** Time the client may take beyond the answers' timeout: to start, read metadata, close */
const CLIENT_GRACE_MS = 60_000;

function checkRun(run: string): string {
  if (!RUN_ID.test(run)) {
    throw new RangeError(`Invalid run id "${run}": expected 1 to 100 letters, digits, "_" or "-"`);
  }
  return run;
}

/** `text` as a regular expression that matches it alone */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function checkAgent(agent: string, inboxToo: boolean): string {
  const known: readonly string[] = inboxToo ? [...AGENTS, USER_INBOX] : AGENTS;
  if (!known.includes(agent)) {
    throw new RangeError(`Unknown agent "${agent}": expected one of ${known.join(", ")}`);
  }
  return agent;
}

/** The topic an agent (or the desk) reads in run `run` */
export function topic(agent: string, run: string): string {
  return `ops.${checkRun(run)}.jobs.${checkAgent(agent, true)}`;
}

/** Every topic of run `run`: the agents', then the desk's */
export function topics(run: string): string[] {
  return [...AGENTS, USER_INBOX].map((agent) => topic(agent, run));
}

function env(run: string, stateDir?: string): Record<string, string> {
  return {
    A2A_RUN: checkRun(run),
    ...(stateDir === undefined ? {} : { OPS_STATE_DIR: `${stateDir}/ops-jobs` }),
    OPS_STEP_TIMEOUT_MS: "4000",
    OPS_MAX_TRIES: "2",
    PYTHONUNBUFFERED: "1",
    PYTHONDONTWRITEBYTECODE: "1",
  };
}

async function ask(
  bootstrap: string,
  run: string,
  prompts: string[],
  timeoutMs: number,
): Promise<ForeignAnswer[]> {
  if (prompts.length === 0) return [];
  if (!(timeoutMs > 0)) throw new RangeError(`Invalid timeout "${timeoutMs}": expected ms above 0`);
  const python = VENV.python();
  try {
    await Deno.stat(python);
  } catch {
    throw new Error(`No venv python at "${python}": run customJson.install() first`);
  }
  const output = await new Deno.Command(python, {
    args: [CLIENT_PY, "ask", "--timeout-ms", String(Math.ceil(timeoutMs)), "--", ...prompts],
    env: { ...env(run), KAFKA_BOOTSTRAP_SERVERS: bootstrap },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs + CLIENT_GRACE_MS),
  }).output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-10);
    throw new Error(
      `client.py failed (exit code ${output.code}, ${output.signal ?? "no signal"}): ${
        stderr.join("\n")
      }`,
    );
  }
  const lines = new TextDecoder().decode(output.stdout).split("\n").filter((l) => l.trim() !== "");
  const answers = lines.map(parseAnswerLine);
  if (answers.length !== prompts.length) {
    throw new Error(`client.py printed ${answers.length} answers for ${prompts.length} prompts`);
  }
  return answers;
}

export const customJson: ForeignSystem = {
  name: "custom-json",
  agents: AGENTS,
  userInbox: USER_INBOX,
  topic,
  group: (agent, run) => `ops-${checkRun(run)}-${checkAgent(agent, false)}-workers`,
  install: (log) => VENV.install(log),
  command: (agent) => [VENV.python(), AGENT_PY, checkAgent(agent, false)],
  env,
  observerEnv: (run) => ({
    KAFKA_TOPIC_PATTERN: `^ops\\.${
      escapeRegExp(checkRun(run))
    }\\.jobs\\.(?<agent>[a-z][a-z0-9_-]*)$`,
    OBSERVER_USER_INBOX: USER_INBOX,
    OBSERVER_MAPPINGS: MAPPING,
  }),
  ask,
};
