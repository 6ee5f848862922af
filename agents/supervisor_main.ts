/**
 * `deno task agents`: runs the four sample agents (or the ones `--only` names, fleet workers
 * among them) as separate processes, `--replicas` of each, restarting any that dies, until
 * SIGTERM or Ctrl-C. Exit codes: 0 after a clean stop, 2 usage error.
 */

import { parseArgs } from "node:util";
import { Supervisor } from "./supervisor.ts";
import { SAMPLE_AGENTS } from "./topics.ts";
import { errorText } from "./error_text.ts";
import { isFleetWorker } from "./roster/mod.ts";
import { ONE_REPLICA, parseReplicas, type ReplicaCounts } from "./replicas.ts";

const USAGE = `Usage: deno task agents [--only AGENT,AGENT...] [--replicas N[,AGENT=M...]]

Runs the sample agents (${SAMPLE_AGENTS.join(", ")}) as separate OS processes and
restarts one that dies (delay 0.5s doubling to 10s). --only names the agents to run: sample
agents, or fleet workers worker-01, worker-02... (the same worker under many names).
--replicas runs N processes of every agent (M of the ones named), in the agent's consumer group.
Lifecycle records go to $AGENTS_STATE_DIR/processes.jsonl and processes.json (default ./.agents).

Examples:
  AGENT_FAULTS="researcher=crash" deno task agents
  deno task agents --only worker-01,worker-02 --replicas 2,worker-01=3`;

function main(argv: string[]): number | Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        only: { type: "string" },
        replicas: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const known: readonly string[] = SAMPLE_AGENTS;
  const agents = values.only?.split(",").map((s) => s.trim()).filter((s) => s !== "") ??
    [...SAMPLE_AGENTS];
  const unknown = agents.find((a) => !known.includes(a) && !isFleetWorker(a));
  if (unknown !== undefined) {
    console.error(
      `error: unknown agent "${unknown}": expected one of ${SAMPLE_AGENTS.join(", ")} or worker-NN`,
    );
    return 2;
  }
  let replicas: ReplicaCounts = ONE_REPLICA;
  try {
    if (values.replicas !== undefined) replicas = parseReplicas(values.replicas);
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 2;
  }
  const supervisor = new Supervisor({
    agents,
    replicas,
    agentScript: new URL("./main.ts", import.meta.url).pathname,
    stateDir: Deno.env.get("AGENTS_STATE_DIR") || "./.agents",
  });
  return (async () => {
    const stop = Promise.withResolvers<void>();
    Deno.addSignalListener("SIGTERM", () => stop.resolve());
    Deno.addSignalListener("SIGINT", () => stop.resolve());
    await supervisor.start();
    await stop.promise;
    await supervisor.stop();
    return 0;
  })();
}

Deno.exit(await main(Deno.args));
