/**
 * The scenario corpus: each scenario breaks the real system (or, for a control, does not) and
 * says what `oracle diagnose` must answer. Faults come from the agents' own knobs (AGENT_FAULTS)
 * and from outside the agents: kill -9 of a pid, SIGSTOP/SIGCONT, a foreign producer, the broker
 * stopped and started, a burst of requests. Every step waits on a condition, never a fixed sleep.
 */

import type { DiffRecord } from "@mat/observer";
import { type System, type SystemOptions, until } from "./system.ts";

/**
 * What diagnose must answer: healthy, or the top incident's root cause; `noCritical` where no
 * incident may be critical, the expected one included (deaths that are no crash loop)
 */
export type Expectation =
  | { status: "healthy" }
  | { kind: string; agent: string; noCritical?: true };

export interface BrokerControl {
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Freezes the broker's process (SIGSTOP) for `ms`, then lets it go on (SIGCONT): a blip */
  blip(ms: number): Promise<void>;
}

export interface ScenarioContext {
  sys: System;
  broker: BrokerControl;
  log(line: string): void;
}

export interface Scenario {
  name: string;
  /** How the system is broken, in a line */
  breaks: string;
  system?: Omit<SystemOptions, "bootstrap" | "log">;
  run(ctx: ScenarioContext): Promise<void>;
  expect: Expectation;
}

const RESEARCH = "Summarise why consumer lag matters";
const CODE = "Write a function that computes consumer lag";
const REPORT = "Draft the incident report for last night's outage";

function isRuntime(
  agent: string,
  kind: string,
  extra: (r: Extract<DiffRecord, { type: "runtime_event" }>) => boolean = () => true,
): (r: DiffRecord) => boolean {
  return (r) => r.type === "runtime_event" && r.agent === agent && r.kind === kind && extra(r);
}

function handoffTo(agent: string): (r: DiffRecord) => boolean {
  return (r) =>
    ((r.type === "handoff_started" || r.type === "handoff_retried") && r.to === agent) ||
    (r.type === "message" && r.handoff === "started" && r.target === agent);
}

/** Waits for the observer to see every agent stop (a clean stop) */
async function stopEverything(sys: System, agents: readonly string[]): Promise<void> {
  await sys.stopAgents();
  for (const agent of agents) {
    await sys.history.waitFor(
      `${agent}'s clean stop recorded`,
      isRuntime(agent, "exited", (r) => r.reason === "stopped"),
    );
  }
}

const ALL = ["orchestrator", "researcher", "writer", "coder"] as const;

export const SCENARIOS: Scenario[] = [
  // Controls: nothing is wrong; diagnose must say healthy, with no warning or worse.
  {
    name: "control-healthy-load",
    breaks: "nothing: 30 requests at once, all answered",
    async run({ sys }) {
      await sys.ask(Array.from({ length: 30 }, (_, i) => `${i % 3 ? RESEARCH : CODE} #${i}`));
    },
    expect: { status: "healthy" },
  },
  {
    name: "control-broker-restart",
    breaks: "nothing lasting: the broker is stopped and started between two rounds of requests",
    // Steps may wait 30 s (the default is 20 s): clients reconnect within seconds, not at once
    system: { agentEnv: { ORCHESTRATOR_STEP_TIMEOUT_MS: "30000" } },
    async run({ sys, broker }) {
      await sys.ask([RESEARCH, CODE]);
      await broker.stop();
      const gone = await sys.history.waitFor(
        "the observer recording the broker unreachable",
        (r) => r.type === "queue_sample" && r.status === "ERR",
      );
      await broker.start();
      for (const agent of ALL) {
        await sys.history.waitFor(
          `${agent}'s consumer back in its group`,
          (r) =>
            r.type === "queue_sample" && r.seq > gone.seq && r.agent === agent &&
            r.status === "OK" && r.members.length > 0,
          120_000,
        );
      }
      const answers = await sys.ask([RESEARCH, REPORT], 120_000);
      const failed = answers.filter((a) => a.type !== "RESULT");
      if (failed.length > 0) {
        throw new Error(`${failed.length} request(s) failed after the restart`);
      }
    },
    expect: { status: "healthy" },
  },
  {
    name: "control-clean-stop",
    breaks: "nothing: requests answered, then every agent stopped with SIGTERM",
    async run({ sys }) {
      await sys.ask([RESEARCH, CODE, REPORT]);
      await stopEverything(sys, ALL);
    },
    expect: { status: "healthy" },
  },
  {
    name: "control-slow-within-deadline",
    breaks: "nothing: the writer takes 1.5 s a task, well within the 4 s step deadline",
    system: { faults: "writer=slow(ms=1500)" },
    async run({ sys }) {
      await sys.ask([RESEARCH, REPORT, CODE]);
    },
    expect: { status: "healthy" },
  },
  {
    name: "control-idle",
    breaks: "nothing: one request, then the system idles while the observer samples",
    async run({ sys }) {
      await sys.ask([RESEARCH]);
      const last = sys.history.records.at(-1)?.seq ?? 0;
      await sys.history.waitForCount(
        "20 more queue samples",
        (r) => r.type === "queue_sample" && r.seq > last,
        20,
      );
    },
    expect: { status: "healthy" },
  },

  // Faults injected with the agents' own knobs.
  {
    name: "knob-crash-loop",
    breaks: "AGENT_FAULTS: the coder kills itself with SIGKILL on every task",
    system: { faults: "coder=crash(times=20)" },
    async run({ sys }) {
      // Code tasks keep coming, a wave at a time, until the runtime calls it a crash loop.
      const looping = isRuntime("coder", "crash_loop");
      for (let wave = 1; !(await sys.history.refresh()).some(looping); wave++) {
        if (wave > 6) throw new Error("The coder never crash-looped");
        const ids = await sys.client.send([`${CODE} #${wave}a`, `${CODE} #${wave}b`]);
        await until(
          "answers or a crash loop",
          async () =>
            (await sys.history.refresh()).some(looping) ||
              ids.every((id) => sys.client.answers.has(id))
              ? true
              : undefined,
          90_000,
        );
      }
    },
    expect: { kind: "agent_crash_loop", agent: "coder" },
  },
  {
    name: "knob-crash-once",
    breaks: "AGENT_FAULTS: the researcher kills itself once mid-task; the task is redelivered",
    system: {
      faults: "researcher=crash",
      agentEnv: { ORCHESTRATOR_STEP_TIMEOUT_MS: "30000" },
    },
    async run({ sys }) {
      await sys.ask([RESEARCH]);
    },
    expect: { kind: "agent_crashed", agent: "researcher" },
  },
  {
    name: "knob-llm-rate-limit",
    breaks: "AGENT_FAULTS: every LLM call of the coder is rate-limited (HTTP 429)",
    system: { faults: "coder=error(kind=llm_rate_limit)" },
    async run({ sys }) {
      await sys.ask([CODE, `${CODE} in Rust`]);
    },
    expect: { kind: "llm_rate_limited", agent: "coder" },
  },
  {
    name: "knob-dropped-replies",
    breaks: "AGENT_FAULTS: the writer never sends its replies",
    system: { faults: "writer=drop" },
    async run({ sys }) {
      await sys.ask([REPORT, RESEARCH]);
    },
    expect: { kind: "stuck_handoff", agent: "writer" },
  },
  {
    name: "knob-slow-past-deadline",
    breaks: "AGENT_FAULTS: the writer takes 6 s a task, past the 4 s step deadline",
    system: { faults: "writer=slow(ms=6000)" },
    async run({ sys }) {
      await sys.ask([REPORT]);
      await sys.history.waitForCount(
        "the writer's answers to both attempts",
        (r) => (r.type === "handoff_completed" || r.type === "handoff_failed") && r.to === "writer",
        2,
      );
    },
    expect: { kind: "slow_agent", agent: "writer" },
  },
  {
    name: "knob-malformed",
    breaks: "AGENT_FAULTS: the researcher sends records that are not JSON",
    system: { faults: "researcher=malformed(times=2)" },
    async run({ sys }) {
      await sys.ask([RESEARCH, REPORT]);
    },
    expect: { kind: "malformed_messages", agent: "researcher" },
  },
  {
    name: "knob-tool-errors",
    breaks: "AGENT_FAULTS: every task of the writer fails with tool_error",
    system: { faults: "writer=error(kind=tool_error)" },
    async run({ sys }) {
      await sys.ask([REPORT, RESEARCH, `${RESEARCH} in detail`]);
    },
    expect: { kind: "error_spike", agent: "writer" },
  },

  // Faults from outside the agents.
  {
    name: "kill9-mid-task",
    breaks: "kill -9 of the researcher's pid while it works on a task",
    system: {
      faults: "researcher=slow(ms=3000)",
      agentEnv: { ORCHESTRATOR_STEP_TIMEOUT_MS: "30000" },
    },
    async run({ sys }) {
      const ids = await sys.client.send([RESEARCH]);
      await sys.history.waitFor("a task handed to the researcher", handoffTo("researcher"));
      await sys.signal("researcher", "SIGKILL");
      await sys.client.wait(ids);
    },
    expect: { kind: "agent_crashed", agent: "researcher" },
  },
  {
    name: "observer-away-kill9-mid-task",
    breaks:
      "the observer is stopped (a rollout), the researcher is SIGKILLed holding a task, the " +
      "observer comes back 13 s later and catches up",
    system: {
      faults: "researcher=slow(ms=15000,times=1)",
      agentEnv: { ORCHESTRATOR_STEP_TIMEOUT_MS: "120000" },
    },
    async run({ sys }) {
      await sys.stopObserver();
      const away = Date.now();
      const ids = await sys.client.send([RESEARCH]);
      await sys.agents.waitFor(
        (l) => l.includes(`"agent":"researcher"`) && l.includes(`"msg":"fault: slowing down"`),
      );
      await sys.signal("researcher", "SIGKILL");
      // The observer away 13 s, as in a rollout that takes its time (the fault is a duration)
      await new Promise((r) => setTimeout(r, Math.max(0, 13_000 - (Date.now() - away))));
      await sys.startObserver();
      await sys.history.waitFor("the researcher's death", isRuntime("researcher", "exited"));
      await sys.client.wait(ids, 120_000);
    },
    expect: { kind: "agent_crashed", agent: "researcher" },
  },
  {
    name: "kill9-idle",
    breaks: "kill -9 of the researcher's pid while it is idle; the supervisor restarts it",
    async run({ sys }) {
      await sys.ask([RESEARCH]);
      await sys.signal("researcher", "SIGKILL");
      await sys.history.waitFor("the researcher restarted", isRuntime("researcher", "restarted"));
      await sys.ask([REPORT]);
    },
    expect: { kind: "agent_restarted", agent: "researcher" },
  },
  {
    name: "sigstop-frozen",
    breaks: "SIGSTOP of the coder's pid while code tasks keep arriving",
    async run({ sys }) {
      await sys.ask([RESEARCH]);
      const pid = await sys.signal("coder", "SIGSTOP");
      try {
        const ids = await sys.client.send([CODE, `${CODE} in Go`]);
        await sys.history.waitFor("a task handed to the frozen coder", handoffTo("coder"));
        await sys.client.wait(ids);
      } catch (err) {
        Deno.kill(pid, "SIGCONT");
        throw err;
      }
    },
    expect: { kind: "consumer_stalled", agent: "coder" },
  },
  {
    name: "sigstop-recovered",
    breaks: "SIGSTOP of the writer's pid, then SIGCONT once work waits on its queue",
    async run({ sys }) {
      const pid = await sys.signal("writer", "SIGSTOP");
      try {
        const ids = await sys.client.send([REPORT, RESEARCH]);
        await sys.history.waitFor(
          "lag on the frozen writer's queue",
          (r) => r.type === "queue_sample" && r.agent === "writer" && r.lag > 0,
        );
        await sys.history.waitFor(
          "a writer handoff past its deadline",
          (r) =>
            (r.type === "handoff_stuck" && r.to === "writer") ||
            (r.type === "handoffs_stuck" && r.handoffs.some((h) => h.to === "writer")),
        );
        Deno.kill(pid, "SIGCONT");
        await sys.client.wait(ids);
        await sys.history.waitFor(
          "the writer's queue drained",
          (r) =>
            r.type === "queue_sample" && r.agent === "writer" && r.lag === 0 &&
            r.members.length > 0,
        );
      } finally {
        try {
          Deno.kill(pid, "SIGCONT");
        } catch { /* gone */ }
      }
    },
    expect: { kind: "consumer_stalled", agent: "writer" },
  },
  {
    name: "foreign-garbage",
    breaks:
      "a producer that is no agent writes 5 records that are not JSON to the researcher's queue",
    async run({ sys }) {
      await sys.produce("researcher", ["garbage 1", "{not json", "<xml/>", "", "\u0000\u0001"]);
      await sys.history.waitForCount(
        "the foreign records seen",
        (r) => r.type === "message_malformed",
        5,
      );
      await sys.ask([RESEARCH]);
    },
    expect: { kind: "malformed_messages", agent: "researcher" },
  },
  {
    name: "foreign-expired-deadlines",
    breaks: "a producer sends the coder 300 tasks as the orchestrator whose deadline was already " +
      "past when they were made (a sender's clock 2 s behind)",
    async run({ sys }) {
      const task = (n: number) => {
        const now = Date.now();
        return JSON.stringify({
          schema_version: 1,
          message_id: crypto.randomUUID(),
          type: "TASK",
          source: "orchestrator",
          target: "coder",
          conversation_id: `conv-late${n}`,
          task_id: `conv-late${n}.1-coder`,
          attempt: 1,
          created_at: new Date(now).toISOString(),
          deadline: new Date(now - 2_000).toISOString(),
          payload: { instruction: "Write a function that computes consumer lag" },
        });
      };
      await sys.produce("coder", Array.from({ length: 300 }, (_, n) => task(n)));
      await sys.history.waitForCount(
        "the coder refusing every task past its deadline",
        (r) =>
          r.type === "handoff_failed" && r.to === "coder" && r.error_kind === "deadline_exceeded",
        300,
      );
      await sys.ask([RESEARCH]);
    },
    expect: { kind: "expired_before_sent", agent: "orchestrator" },
  },
  {
    name: "foreign-unread-queue",
    breaks: "a producer sends tasks to agent-queue-auditor, a queue no agent reads",
    system: { extraQueues: ["auditor"] },
    async run({ sys }) {
      const task = (n: number) =>
        JSON.stringify({
          schema_version: 1,
          message_id: crypto.randomUUID(),
          type: "TASK",
          source: "orchestrator",
          target: "auditor",
          conversation_id: `conv-audit${n}`,
          task_id: `conv-audit${n}`,
          attempt: 1,
          created_at: new Date().toISOString(),
          payload: { instruction: "Audit the outage" },
        });
      await sys.produce("auditor", [task(1), task(2), task(3)]);
      await sys.history.waitFor(
        "the tasks waiting on the unread queue",
        (r) => r.type === "queue_sample" && r.agent === "auditor" && r.lag >= 3,
      );
      await sys.ask([RESEARCH]);
    },
    expect: { kind: "unroutable_task", agent: "auditor" },
  },
  {
    name: "agent-never-started",
    breaks: "the writer is never started: its queue has no consumer",
    system: { only: ["orchestrator", "researcher", "coder"] },
    async run({ sys }) {
      await sys.ask([REPORT]);
    },
    expect: { kind: "unroutable_task", agent: "writer" },
  },
  {
    name: "crash-then-clean-stop",
    breaks: "the researcher crashes once mid-task and recovers, then everything stops cleanly",
    system: {
      faults: "researcher=crash",
      agentEnv: { ORCHESTRATOR_STEP_TIMEOUT_MS: "30000" },
    },
    async run({ sys }) {
      await sys.ask([RESEARCH, REPORT]);
      await stopEverything(sys, ALL);
    },
    expect: { kind: "agent_crashed", agent: "researcher" },
  },
  {
    name: "control-burst",
    breaks: "nothing: 200 requests written at once, all answered (replies never wait behind tasks)",
    // Steps may wait 30 s: a worker takes its share of 200 tasks four at a time
    system: { agentEnv: { ORCHESTRATOR_STEP_TIMEOUT_MS: "30000" } },
    async run({ sys }) {
      const ids = await sys.client.send(
        Array.from({ length: 200 }, (_, i) => `${RESEARCH} #${i}`),
        120_000,
      );
      const answers = await sys.client.wait(ids, 180_000);
      const failed = answers.filter((a) => a.type !== "RESULT");
      if (failed.length > 0) throw new Error(`${failed.length} of 200 requests failed`);
      // Then the system settles: every queue drained in a sample taken since
      const answered = sys.history.records.at(-1)?.seq ?? 0;
      for (const agent of ALL) {
        await sys.history.waitFor(
          `${agent}'s queue drained`,
          (r) => r.type === "queue_sample" && r.agent === agent && r.seq > answered && r.lag === 0,
        );
      }
    },
    expect: { status: "healthy" },
  },
];
