/**
 * An observer rollout while an agent dies: the observer is stopped (SIGTERM, as a rollout stops
 * it), a task is handed to the researcher, the researcher is SIGKILLed holding it, and the
 * observer comes back 13 s after it stopped and catches up. The real broker (the test's own),
 * observer process, supervisor and agents; the diagnosis is `oracle diagnose -f json`'s.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { RuntimeEventRecord } from "@mat/observer";
import { OwnBroker } from "@mat/observer/testing/own_broker";
import { isRecord } from "@mat/agents/support";
import { System, until } from "./system.ts";
import { causesOf } from "./score.ts";

const ORACLE = fileURLToPath(new URL("../oracle/main.ts", import.meta.url));
/** How long the observer is away, as in the issue */
const AWAY_MS = 13_000;

async function diagnose(dataDir: string): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", ORACLE, "diagnose", "-f", "json"],
    env: { TELEMETRY_DATA_DIR: dataDir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const doc: unknown = JSON.parse(stdout);
  assert.ok(isRecord(doc), stdout);
  return doc;
}

function isResearcherDeath(r: { type: string }): r is RuntimeEventRecord {
  const e = r as RuntimeEventRecord;
  return e.type === "runtime_event" && e.agent === "researcher" && e.kind === "exited" &&
    e.signal === "SIGKILL";
}

Deno.test({
  name: "a death seen on catch-up names the task it held, which Kafka gave after the death",
  fn: async () => {
    const broker = await OwnBroker.create();
    broker.start();
    let sys: System | undefined;
    try {
      sys = await System.start({
        bootstrap: broker.bootstrap,
        only: ["orchestrator", "researcher", "writer"],
        // Slow enough to be killed at work; the orchestrator waits for it rather than retrying
        faults: "researcher=slow(ms=15000,times=1)",
        agentEnv: { ORCHESTRATOR_STEP_TIMEOUT_MS: "120000" },
      });
      const s = sys;
      await s.stopObserver();
      const away = Date.now();
      const ids = await s.client.send(["Summarise why consumer lag matters"]);
      await s.agents.waitFor(
        (l) => l.includes(`"agent":"researcher"`) && l.includes(`"msg":"fault: slowing down"`),
      );
      await s.signal("researcher", "SIGKILL");
      await until("the researcher running again", async () => {
        const lines = (await Deno.readTextFile(`${s.stateDir}/processes.jsonl`)).split("\n");
        return lines.some((l) => l.includes(`"researcher"`) && l.includes(`"restart_count":1`))
          ? true
          : undefined;
      });
      await until(
        "the observer away 13 s",
        () => Promise.resolve(Date.now() - away >= AWAY_MS ? true : undefined),
        AWAY_MS + 5_000,
      );
      await s.startObserver();
      const death = await s.history.waitFor("the researcher's death", isResearcherDeath);
      // The restarted researcher does the redelivered task; the answer comes
      await s.client.wait(ids, 120_000);
      await s.settle();

      const task = (await s.history.refresh()).find((r) =>
        r.type === "message" && r.msg_type === "TASK" && r.target === "researcher"
      );
      assert.ok(task !== undefined && task.type === "message", "the TASK to the researcher");
      const doc = await diagnose(s.dataDir);
      const incident = JSON.stringify(
        (Array.isArray(doc["incidents"]) ? doc["incidents"] : []).find((i) =>
          JSON.stringify(i).includes(`"agent":"researcher"`)
        ),
      );
      assert.deepEqual(
        death.tasks_in_flight.map((t) => t.task_message_id),
        [task.message_id],
        `the death's record: ${JSON.stringify(death)}; diagnose: ${incident}`,
      );
      assert.equal(death.tasks_in_flight_complete, undefined);
      const crash = causesOf(doc).find((c) => c.agent === "researcher");
      assert.equal(crash?.kind, "agent_crashed", incident);
      assert.match(incident, /holding 1 task/);
    } finally {
      await sys?.close();
      await sys?.removeHistory();
      await broker.close();
    }
  },
  sanitizeOps: false,
  sanitizeResources: false,
});
