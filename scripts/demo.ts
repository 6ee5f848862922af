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
 * machine goes (default ./telemetry_data). Exit codes: 0 done, 1 something failed.
 */

import { fileURLToPath } from "node:url";
import { startKafka, stopKafka } from "./kafka.ts";
import { runScenario } from "./scenario.ts";
import { errorText } from "@mat/agents/support";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DEMO_FAULTS = "coder=error(kind=llm_rate_limit);writer=drop(match=incident);" +
  "researcher=malformed(times=1)";
export const DEMO_REQUESTS = [
  "Summarise why consumer lag matters",
  "Write a function that computes consumer lag",
  "Draft the incident report for last night's outage",
];

async function main(): Promise<number> {
  const kafka = await startKafka({ stopOnFailure: true });
  const dataDir = Deno.env.get("TELEMETRY_DATA_DIR") || `${ROOT}telemetry_data`;
  try {
    const { outcomes } = await runScenario({
      bootstrap: kafka.bootstrap,
      dataDir,
      faults: Deno.env.get("AGENT_FAULTS") ?? DEMO_FAULTS,
      requests: DEMO_REQUESTS,
      log: (line) => console.error(`demo: ${line}`),
    });
    for (const out of outcomes) {
      if (out.reply?.type !== "RESULT") continue;
      console.log(`The answer to "${DEMO_REQUESTS[outcomes.indexOf(out)]}", from the agents:`);
      console.log(`${String(out.reply.payload["answer"])}\n`);
    }
  } finally {
    if (kafka.started) await stopKafka();
  }
  console.error("demo: what the oracle finds (deno task oracle diagnose):\n");
  const oracle = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", `${ROOT}oracle/main.ts`, "diagnose"],
    env: { TELEMETRY_DATA_DIR: dataDir },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  console.error(
    "\ndemo: drill down with: deno task oracle errors | trace <conversation> | replay -m 5",
  );
  return oracle.code === 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(
    await main().catch((err) => {
      console.error(`demo: ${errorText(err)}`);
      return 1;
    }),
  );
}
