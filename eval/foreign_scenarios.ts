/**
 * Scenarios on agent systems NOT written with our runtime (eval/foreign/): the A2A Python SDK with
 * CloudEvents binary mode over kafka-python, the A2A JS SDK with CloudEvents structured mode and
 * JSON-RPC over kafkajs, and a team's own JSON over confluent-kafka read by a declared mapping.
 * Each is broken from outside (an agent never started, kill -9, SIGSTOP) or by its own code
 * (FOREIGN_FAULTS: upstream 429s, tasks that wait on a person) and scored exactly as the others.
 */

import type { DiffRecord } from "@mat/observer";
import { a2aJs } from "./foreign/a2a_js/system.ts";
import { a2aPython } from "./foreign/a2a_python/system.ts";
import { customJson } from "./foreign/custom_json/system.ts";
import type { ForeignRun } from "./foreign/foreign_run.ts";
import type { ForeignSystem } from "./foreign/foreign_system.ts";
import type { Expectation } from "./scenarios.ts";

export interface ForeignContext {
  sys: ForeignRun;
  log(line: string): void;
}

export interface ForeignScenario {
  name: string;
  breaks: string;
  foreign: ForeignSystem;
  /** FOREIGN_FAULTS */
  faults?: string;
  /** The agents started (default: all of them) */
  only?: readonly string[];
  /** Observer settings beside the system's own (a short STUCK_AFTER_MS...) */
  observerEnv?: Record<string, string>;
  run(ctx: ForeignContext): Promise<void>;
  expect: Expectation;
}

const PROMPTS = [
  "Why does consumer lag matter",
  "Summarise the outage of last night",
  "Find papers on exactly-once delivery",
  "What is a rebalance storm",
  "Explain Burrow's lag rules",
  "Compare A2A and MCP",
];

function taskTo(agent: string): (r: DiffRecord) => boolean {
  return (r) => r.type === "message" && r.msg_type === "TASK" && r.target === agent;
}

/** Asks, and throws unless every answer has the outcome wanted */
async function askAll(
  sys: ForeignRun,
  prompts: string[],
  outcome: "completed" | "input_required",
  timeoutMs = 90_000,
): Promise<void> {
  const answers = await sys.ask(prompts, timeoutMs);
  const other = answers.filter((a) => a.outcome !== outcome);
  if (other.length > 0 || answers.length !== prompts.length) {
    throw new Error(
      `${other.length} of ${prompts.length} request(s) not ${outcome}: ${
        other.map((a) => `${a.outcome} ${a.text.slice(0, 80)}`).join("; ")
      }`,
    );
  }
}

function control(foreign: ForeignSystem): ForeignScenario {
  return {
    name: `${foreign.name}-control-healthy`,
    breaks: `nothing: ${PROMPTS.length} requests through ${foreign.name}, all answered`,
    foreign,
    async run({ sys }) {
      await askAll(sys, PROMPTS, "completed");
    },
    expect: { status: "healthy" },
  };
}

function neverConsumes(foreign: ForeignSystem, agent: string): ForeignScenario {
  return {
    name: `${foreign.name}-never-consumes`,
    breaks: `${agent} is never started: its topic exists and nobody reads it`,
    foreign,
    only: foreign.agents.filter((a) => a !== agent),
    async run({ sys }) {
      const answers = await sys.ask(PROMPTS.slice(0, 3), 15_000);
      if (answers.some((a) => a.outcome === "completed")) {
        throw new Error(`A request was answered without ${agent}`);
      }
      await sys.history.waitFor(`a task sent to ${agent}`, taskTo(agent));
    },
    expect: { kind: "unroutable_task", agent },
  };
}

function rateLimited(foreign: ForeignSystem, agent: string): ForeignScenario {
  return {
    name: `${foreign.name}-upstream-429`,
    breaks: `${agent} fails every third task with an upstream 429`,
    foreign,
    faults: `${agent}=fail429(every=3)`,
    async run({ sys }) {
      const answers = await sys.ask(PROMPTS, 90_000);
      const failed = answers.filter((a) => a.outcome === "failed");
      if (failed.length === 0) throw new Error(`No request failed with ${agent}'s 429s`);
    },
    expect: { kind: "llm_rate_limited", agent },
  };
}

function crashHolding(foreign: ForeignSystem, agent: string): ForeignScenario {
  return {
    name: `${foreign.name}-kill9-mid-task`,
    breaks: `kill -9 of ${agent}'s pid while it works on a task; the supervisor restarts it`,
    foreign,
    faults: `${agent}=slow(ms=4000)`,
    async run({ sys }) {
      const asked = sys.ask(PROMPTS.slice(0, 1), 120_000);
      await sys.waitForLine(`${agent} working on a task`, new RegExp(`^${agent}: working on`));
      await sys.signal(agent, "SIGKILL");
      await asked;
    },
    expect: { kind: "agent_crashed", agent },
  };
}

function frozen(foreign: ForeignSystem, agent: string): ForeignScenario {
  return {
    name: `${foreign.name}-sigstop-frozen`,
    breaks: `SIGSTOP of ${agent}'s pid while tasks keep arriving`,
    foreign,
    async run({ sys }) {
      await askAll(sys, PROMPTS.slice(0, 1), "completed");
      const pid = await sys.signal(agent, "SIGSTOP");
      try {
        const asked = sys.ask(PROMPTS.slice(1, 3), 30_000);
        await sys.history.waitFor(`a task sent to the frozen ${agent}`, taskTo(agent));
        await sys.history.waitFor(
          `${agent}'s consumer gone from its group`,
          (r) =>
            r.type === "queue_sample" && r.agent === agent && r.lag > 0 && r.members.length === 0,
          90_000,
        );
        await asked;
      } catch (err) {
        Deno.kill(pid, "SIGCONT");
        throw err;
      }
    },
    expect: { kind: "consumer_stalled", agent },
  };
}

function waitingOnPerson(foreign: ForeignSystem, agent: string): ForeignScenario {
  return {
    name: `${foreign.name}-input-required`,
    breaks: `nothing: ${agent} asks a person for input on every task (no fault, a wait)`,
    foreign,
    faults: `${agent}=input_required`,
    // Stuck after 3 s: the tasks that wait on a person wait past it, and must not be stuck
    observerEnv: { STUCK_AFTER_MS: "3000" },
    async run({ sys }) {
      await askAll(sys, PROMPTS.slice(0, 3), "input_required");
      const waiting = await sys.history.waitFor(
        "a task waiting on a person",
        (r) => r.type === "message" && r.waiting_on === "input",
      );
      await sys.history.waitFor(
        "the observer's samples 5 s after the wait began (past STUCK_AFTER_MS)",
        (r) => r.type === "queue_sample" && Date.parse(r.ts) > Date.parse(waiting.ts) + 5_000,
        60_000,
      );
    },
    expect: { status: "healthy" },
  };
}

export const FOREIGN_SCENARIOS: ForeignScenario[] = [
  control(a2aPython),
  neverConsumes(a2aPython, "search"),
  rateLimited(a2aPython, "summarizer"),
  waitingOnPerson(a2aPython, "search"),
  control(a2aJs),
  crashHolding(a2aJs, "coder"),
  waitingOnPerson(a2aJs, "reviewer"),
  control(customJson),
  frozen(customJson, "triage"),
  rateLimited(customJson, "fixer"),
];
