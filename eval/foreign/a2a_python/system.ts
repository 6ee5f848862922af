/**
 * The A2A Python system: an agent system written the way a team that does not use our runtime
 * would write it, in Python with the libraries from PyPI: the A2A SDK (`a2a-sdk` 1.3.0, its
 * protobuf types in their ProtoJSON mapping), the CloudEvents SDK's Kafka binding in binary mode
 * (`cloudevents` 2.2.0, `cloudevents.core.bindings.kafka`) and `kafka-python` 3.0.12.
 *
 * - `planner` (the entry agent) asks `search`, then `summarizer`, then answers the requester;
 *   `agent.py`'s header says how each agent reads, commits and fails, `a2a_kafka.py`'s what a
 *   record looks like.
 * - Topics: `a2a.<run>.inbox.<agent>` for each agent and the requester's inbox `client`
 *   (`topics(run)`). Neither the agents nor the broker create them: the eval creates every one,
 *   with `PARTITIONS` partitions, before it starts anything.
 * - Groups: `a2a-<run>-<agent>`; the client reads in a group of its own,
 *   `a2a-<run>-client-<random>`.
 */

import { fileURLToPath } from "node:url";
import type { ForeignAnswer, ForeignSystem } from "../foreign_system.ts";
import { parseAnswerLine } from "../answer_line.ts";
import { PythonVenv } from "../python_venv.ts";

const VENV = new PythonVenv(
  "a2a-python",
  fileURLToPath(new URL("./requirements.txt", import.meta.url)),
);

export const AGENTS = ["planner", "search", "summarizer"] as const;
export const USER_INBOX = "client";
/** Partitions of every topic the eval creates */
export const PARTITIONS = 3;

const AGENT_PY = fileURLToPath(new URL("./agent.py", import.meta.url));
const CLIENT_PY = fileURLToPath(new URL("./client.py", import.meta.url));
/** What `agent.py` accepts as A2A_RUN: a topic-name-safe word */
const RUN_ID = /^[A-Za-z0-9_-]{1,100}$/;
/** Time the client may take beyond the answers' timeout: to start, join its group, close */
const CLIENT_GRACE_MS = 60_000;

function checkRun(run: string): string {
  if (!RUN_ID.test(run)) {
    throw new RangeError(`Invalid run id "${run}": expected 1 to 100 letters, digits, "_" or "-"`);
  }
  return run;
}

function checkAgent(agent: string): string {
  if (agent !== USER_INBOX && !(AGENTS as readonly string[]).includes(agent)) {
    throw new RangeError(`Unknown agent "${agent}": expected one of ${AGENTS.join(", ")}`);
  }
  return agent;
}

/** The topic an agent (or the client) reads in run `run` */
export function topic(agent: string, run: string): string {
  return `a2a.${checkRun(run)}.inbox.${checkAgent(agent)}`;
}

/** Every topic of run `run`: the agents' inboxes, then the client's */
export function topics(run: string): string[] {
  return [...AGENTS, USER_INBOX].map((agent) => topic(agent, run));
}

function env(run: string): Record<string, string> {
  return { A2A_RUN: checkRun(run), PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" };
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
    Deno.statSync(python);
  } catch {
    throw new Error(`No venv python at "${python}": run a2aPython.install() first`);
  }
  const args = [
    CLIENT_PY,
    `--run=${checkRun(run)}`,
    `--timeout=${timeoutMs / 1000}`,
    ...prompts.map((prompt) => `--prompt=${prompt}`),
  ];
  const output = await new Deno.Command(python, {
    args,
    env: { ...env(run), KAFKA_BOOTSTRAP_SERVERS: bootstrap },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs + CLIENT_GRACE_MS),
  }).output();
  const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-10).join("\n");
  if (!output.success) {
    throw new Error(`client.py failed (exit code ${output.code}, ${output.signal ?? "no signal"}):
${stderr}`);
  }
  const lines = new TextDecoder().decode(output.stdout).split("\n").filter((l) => l.trim() !== "");
  const answers = lines.map(parseAnswerLine);
  if (answers.length !== prompts.length) {
    throw new Error(`client.py printed ${answers.length} answers for ${prompts.length} prompts`);
  }
  return answers;
}

export const a2aPython: ForeignSystem = {
  name: "a2a-python",
  agents: AGENTS,
  userInbox: USER_INBOX,
  topic,
  group: (agent, run) => `a2a-${checkRun(run)}-${checkAgent(agent)}`,
  install: (log) => VENV.install(log),
  command: (agent) => {
    if (!(AGENTS as readonly string[]).includes(agent)) {
      throw new RangeError(`Unknown agent "${agent}": expected one of ${AGENTS.join(", ")}`);
    }
    return [VENV.python(), AGENT_PY, agent];
  },
  env,
  observerEnv: (run) => ({
    // a run id has no character a regular expression reads as other than itself
    KAFKA_TOPIC_PATTERN: `^a2a\\.${checkRun(run)}\\.inbox\\.(?<agent>[a-z][a-z0-9_-]{0,62})$`,
    OBSERVER_USER_INBOX: USER_INBOX,
    OBSERVER_DIALECTS: "cloudevents,a2a",
  }),
  ask,
};
