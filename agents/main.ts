/**
 * Runs one agent process: `deno task agent <name>`. Exit codes: 0 after a clean shutdown on
 * SIGTERM/SIGINT, 1 when it cannot start (broker unreachable), 2 usage or configuration error,
 * 3 when its queue does not exist (one `error:` line on stderr names it and how to create it; a
 * supervisor or Kubernetes restarting the agent shows that line as its last).
 */

import { bootstrapServers } from "./bootstrap_servers.ts";
import { FaultPlan } from "./faults.ts";
import { KafkaBus } from "./kafka_bus.ts";
import { modelFromEnv } from "./llm.ts";
import { sampleAgent } from "./roster/mod.ts";
import { AgentRuntime } from "./runtime.ts";
import { SAMPLE_AGENTS } from "./topics.ts";
import { MissingTopicError, missingTopicLine } from "./missing_topic.ts";
import { errorText } from "./error_text.ts";

const USAGE = `Usage: deno task agent <name>

Runs one sample agent (${SAMPLE_AGENTS.join(", ")}), or a fleet worker
(worker-01, worker-02...: the same worker under many names), on its queue
$KAFKA_TOPIC_PREFIX<name> (default agent-queue-<name>), which \`deno task kafka start\` creates.

Example:
  AGENT_FAULTS="researcher=slow(ms=2000)" deno task agent researcher

Exit codes:
  0  Stopped by SIGTERM or SIGINT
  1  Cannot start (the broker does not answer)
  2  Usage or configuration error
  3  Its queue does not exist on the broker`;

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const [name, ...rest] = args;
  if (name === undefined || rest.length > 0 || name.startsWith("-")) {
    console.error(`error: expected exactly one agent name, got ${JSON.stringify(args)}`);
    return 2;
  }
  const module = sampleAgent(name);
  if (module === undefined) {
    console.error(
      `error: unknown agent "${name}": expected one of ${SAMPLE_AGENTS.join(", ")} or worker-NN`,
    );
    return 2;
  }
  let runtime: AgentRuntime;
  let bus: KafkaBus;
  try {
    bus = new KafkaBus(bootstrapServers(), `agent-${name}-${Deno.pid}`);
    runtime = new AgentRuntime(module, {
      bus,
      model: modelFromEnv(),
      faults: FaultPlan.fromEnv(name),
    });
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 2;
  }
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    await runtime.start();
  } catch (err) {
    await bus.close();
    if (err instanceof MissingTopicError) {
      console.error(`error: agent "${name}": ${missingTopicLine(err, runtime.prefix)}`);
      return 3;
    }
    console.error(`error: agent "${name}" could not start: ${String(err)}`);
    return 1;
  }
  await stopped.promise;
  await runtime.stop();
  await bus.close();
  return 0;
}

Deno.exit(await main(Deno.args));
