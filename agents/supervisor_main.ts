/**
 * `deno task agents`: runs the four sample agents as separate processes, restarting any that dies,
 * until SIGTERM or Ctrl-C. Exit codes: 0 after a clean stop, 2 usage error.
 */

import { parseArgs } from "node:util";
import { Supervisor } from "./supervisor.ts";
import { SAMPLE_AGENTS } from "./topics.ts";
import { errorText } from "./error_text.ts";

const USAGE = `Usage: deno task agents [--only AGENT,AGENT...]

Runs the sample agents (${SAMPLE_AGENTS.join(", ")}) as separate OS processes and
restarts one that dies (delay 0.5s doubling to 10s). Lifecycle records go to
$AGENTS_STATE_DIR/processes.jsonl and processes.json (default ./.agents).

Example:
  AGENT_FAULTS="researcher=crash" deno task agents`;

function main(argv: string[]): number | Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: { only: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
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
  const unknown = agents.find((a) => !known.includes(a));
  if (unknown !== undefined) {
    console.error(`error: unknown agent "${unknown}": expected one of ${SAMPLE_AGENTS.join(", ")}`);
    return 2;
  }
  const supervisor = new Supervisor({
    agents,
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
