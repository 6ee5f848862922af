/**
 * An agent process started from outside the supervisor (a replica of a bad deploy somewhere
 * else): the real `agents/main.ts`, in the system's group on its queue, with a state directory of
 * its own, its output discarded. The local process source does not see it; the broker's group does.
 */

import { fileURLToPath } from "node:url";
import type { System } from "./system.ts";

const AGENT_MAIN = fileURLToPath(new URL("../agents/main.ts", import.meta.url));

export function spawnAgent(sys: System, agent: string, stateDir: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", AGENT_MAIN, agent],
    env: {
      KAFKA_BOOTSTRAP_SERVERS: sys.options.bootstrap,
      KAFKA_TOPIC_PREFIX: sys.prefix,
      AGENTS_STATE_DIR: stateDir,
      AGENT_SESSION_TIMEOUT_MS: "6000",
      AGENT_FAULTS: sys.options.faults ?? "",
      ...sys.options.agentEnv,
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}
