/**
 * A fault scenario on the real system: queues of its own on the broker, the real observer and
 * the four real agents as subprocesses, requests submitted, everything stopped cleanly so the
 * observer writes its final snapshot. Used by `deno task demo` and by the oracle's tests.
 */

import { KafkaBus, SAMPLE_AGENTS, topicFor, USER_INBOX } from "@mat/agents";
import { type SubmitOutcome, submitRequest } from "@mat/agents/submit";
import { AgentsProcess } from "@mat/agents/testing";
import { spawnObserver } from "@mat/observer/process";
import { sleep } from "@mat/agents/support";

export interface ScenarioOptions {
  bootstrap: string;
  dataDir: string;
  faults: string;
  requests: string[];
  /** Extra environment for the agents */
  agentEnv?: Record<string, string>;
  /** How long to let the observer settle after the last answer */
  settleMs?: number;
  /** Called while everything runs, after the requests were answered */
  during?: (ctx: { observerUrl: string; prefix: string }) => Promise<void>;
  log?: (line: string) => void;
}

export interface ScenarioResult {
  prefix: string;
  outcomes: SubmitOutcome[];
  agentLines: string[];
}

function freePort(): number {
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
    await sleep(250);
  }
  throw new Error(
    exited ? "the observer exited at start" : `the observer at ${url} is not healthy`,
  );
}

export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const log = options.log ?? (() => {});
  const run = crypto.randomUUID().slice(0, 6);
  const prefix = `s${run}-agent-queue-`;
  const stateDir = await Deno.makeTempDir({ prefix: "scenario-agents-" });
  const bus = new KafkaBus(options.bootstrap.split(","), `scenario-${run}`);
  const topics = [...SAMPLE_AGENTS, USER_INBOX].map((a) => topicFor(a, prefix));
  let observer: Deno.ChildProcess | undefined;
  let agents: AgentsProcess | undefined;
  try {
    await bus.createTopics(topics, 2);
    const port = freePort();
    const observerUrl = `http://127.0.0.1:${port}`;
    log(`observer on ${observerUrl}, time machine in ${options.dataDir}`);
    observer = spawnObserver({
      bootstrap: options.bootstrap,
      prefix,
      dataDir: options.dataDir,
      port,
      stateDir,
      snapshotIntervalS: 1,
    });
    await waitForHealth(`${observerUrl}/health`, observer, 60_000);
    log(`starting the four agents with AGENT_FAULTS="${options.faults}"`);
    agents = AgentsProcess.start({ prefix }, {
      stateDir,
      env: {
        KAFKA_BOOTSTRAP_SERVERS: options.bootstrap,
        AGENT_FAULTS: options.faults,
        ORCHESTRATOR_STEP_TIMEOUT_MS: "4000",
        ORCHESTRATOR_MAX_ATTEMPTS: "2",
        ...options.agentEnv,
      },
    });
    await agents.ready();
    // Let the observer sample the groups with their members before work arrives.
    await sleep(1_500);
    log(`submitting ${options.requests.length} request(s)`);
    const outcomes = await Promise.all(
      options.requests.map((request) => submitRequest({ bus, request, timeoutMs: 40_000, prefix })),
    );
    for (const [i, out] of outcomes.entries()) {
      const r = out.reply;
      const verdict = r?.type === "RESULT"
        ? "answered"
        : r?.type === "ERROR"
        ? `failed: ${r.error?.kind}: ${r.error?.message}`
        : "no answer";
      log(`  ${out.conversation_id} "${options.requests[i]}": ${verdict}`);
    }
    await sleep(options.settleMs ?? 3_000);
    await options.during?.({ observerUrl, prefix });
    return { prefix, outcomes, agentLines: agents.lines };
  } finally {
    await agents?.stop();
    if (observer) {
      try {
        observer.kill("SIGTERM");
      } catch { /* already gone */ }
      await observer.status;
    }
    // cleanup: topics never created, or a broker already gone, leave nothing to delete
    await bus.deleteTopics(topics).catch(() => {});
    await bus.close();
    // cleanup: the directory may not exist: nothing to remove
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}
