/**
 * `deno task demo`: the main job. Starts what is missing (the broker, then the observer and the
 * four agents on queues of this run's own), sends requests through a scenario with injected
 * faults, and prints what `oracle diagnose` makes of the observer's time machine.
 *
 * Injected faults (the same `AGENT_FAULTS` knobs anyone can use):
 * - coder: every LLM call is rate-limited (HTTP 429), so the code step fails after its retries;
 * - writer: drops its reply to the incident report, so that handoff is left stuck;
 * - researcher: sends one malformed record to the orchestrator's queue.
 *
 * `AGENT_FAULTS` replaces the scenario's faults; `TELEMETRY_DATA_DIR` chooses where the time
 * machine goes (default ./telemetry_data). Exit codes: 0 done, 1 something failed to start.
 */

import { KafkaBus, SAMPLE_AGENTS, topicFor, USER_INBOX } from "@mat/agents";
import { submitRequest } from "@mat/agents/submit";
import { AgentsProcess } from "@mat/agents/testing";
import { fileURLToPath } from "node:url";
import { startKafka, stopKafka } from "./kafka.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FAULTS = "coder=error(kind=llm_rate_limit);writer=drop(match=incident);" +
  "researcher=malformed(times=1)";
const REQUESTS = [
  "Summarise why consumer lag matters",
  "Write a function that computes consumer lag",
  "Draft the incident report for last night's outage",
];

function log(line: string): void {
  console.error(`demo: ${line}`);
}

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitForHealth(url: string, child: Deno.ChildProcess, ms: number): Promise<void> {
  const until = Date.now() + ms;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < until && !exited) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    exited ? "the observer exited at start" : `the observer at ${url} is not healthy`,
  );
}

async function main(): Promise<number> {
  const kafka = await startKafka({ stopOnFailure: true });
  const brokers = kafka.bootstrap.split(",");
  const run = crypto.randomUUID().slice(0, 6);
  const prefix = `demo-${run}-agent-queue-`;
  const dataDir = Deno.env.get("TELEMETRY_DATA_DIR") || `${ROOT}telemetry_data`;
  const stateDir = await Deno.makeTempDir({ prefix: "demo-agents-" });
  const bus = new KafkaBus(brokers, `demo-${run}`);
  const topics = [...SAMPLE_AGENTS, USER_INBOX].map((a) => topicFor(a, prefix));
  let observer: Deno.ChildProcess | undefined;
  let agents: AgentsProcess | undefined;
  try {
    await bus.createTopics(topics, 2);
    const port = await freePort();
    log(`observer on 127.0.0.1:${port}, time machine in ${dataDir}`);
    observer = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${ROOT}observer/main.ts`],
      env: {
        KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap,
        KAFKA_TOPIC_PREFIX: prefix,
        TELEMETRY_DATA_DIR: dataDir,
        OBSERVER_PORT: String(port),
        SNAPSHOT_INTERVAL: "2",
        OBSERVER_QUEUE_POLL_MS: "1000",
        RUNTIME_SOURCE: "local",
        AGENTS_STATE_DIR: stateDir,
      },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForHealth(`http://127.0.0.1:${port}/health`, observer, 60_000);
    const faults = Deno.env.get("AGENT_FAULTS") ?? FAULTS;
    log(`starting the four agents with AGENT_FAULTS="${faults}"`);
    agents = AgentsProcess.start({ prefix }, {
      stateDir,
      env: {
        KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap,
        AGENT_FAULTS: faults,
        ORCHESTRATOR_STEP_TIMEOUT_MS: "5000",
        ORCHESTRATOR_MAX_ATTEMPTS: "2",
      },
    });
    await agents.ready();
    log(`submitting ${REQUESTS.length} requests`);
    const outcomes = await Promise.all(
      REQUESTS.map((request) => submitRequest({ bus, request, timeoutMs: 40_000, prefix })),
    );
    for (const [i, out] of outcomes.entries()) {
      const r = out.reply;
      const verdict = r?.type === "RESULT"
        ? "answered"
        : r?.type === "ERROR"
        ? `failed: ${r.error?.kind}: ${r.error?.message}`
        : "no answer";
      log(`  ${out.conversation_id} "${REQUESTS[i]}": ${verdict}`);
    }
    // Let the observer see the last replies, sample the queues and take a snapshot.
    await new Promise((r) => setTimeout(r, 4_000));
  } finally {
    await agents?.stop();
    if (observer) {
      try {
        observer.kill("SIGTERM");
      } catch { /* already gone */ }
      await observer.status;
    }
    await bus.deleteTopics(topics).catch(() => {});
    await bus.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    if (kafka.started) await stopKafka();
  }
  log("what the oracle finds (deno task oracle diagnose):\n");
  const oracle = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", `${ROOT}oracle/main.ts`, "diagnose"],
    env: { TELEMETRY_DATA_DIR: dataDir },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  log(`drill down with: deno task oracle errors | trace <conversation> | replay -m 5`);
  return oracle.code === 0 ? 0 : 1;
}

Deno.exit(
  await main().catch((err) => {
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }),
);
