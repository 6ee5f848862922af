/**
 * Runs the Kafka broker the agents talk to: `deno task kafka start|stop|status`.
 *
 * Without `KAFKA_BOOTSTRAP_SERVERS` this manages a single-node KRaft broker on 127.0.0.1:9092
 * (`KAFKA_PORT` overrides the port, the controller listens on the next one). Its jars come from
 * Maven (scripts/kafka/pom.xml) into a cache outside the repo; its state lives in `.kafka/`.
 * With `KAFKA_BOOTSTRAP_SERVERS` set, nothing is managed: `start` waits for that cluster and
 * creates the agent queues, `status` reports whether it answers. The queues are named as the
 * agents name them: `KAFKA_TOPIC_PREFIX<agent>` (`topicFor` of the agents' protocol).
 *
 * This file is the command line; each job lives in scripts/kafka/: `settings.ts` (the
 * environment), `admin.ts` (kafkajs admin requests), `jars.ts` (Maven), `broker_config.ts` (the
 * files in `.kafka/`), `broker_process.ts` (the java process), `start.ts`, `stop.ts`, `status.ts`.
 * Starting, stopping and reading the broker, its settings and its jars are re-exported here for
 * `scripts/test.ts`, `scripts/demo.ts`, eval/, bench/ and the observer's tests; the rest is
 * imported from its file.
 */

import {
  DEFAULT_KAFKA_PORT,
  DEFAULT_TOPIC_PREFIX,
  sampleQueues,
  topicPrefix,
} from "@mat/agents/protocol";
import { BrokerExitedError } from "./kafka/broker_process.ts";
import { LOG_FILE, STATE_DIR } from "./kafka/paths.ts";
import { DEFAULT_PARTITIONS } from "./kafka/settings.ts";
import { startKafka } from "./kafka/start.ts";
import { kafkaStatus } from "./kafka/status.ts";
import { stopKafka } from "./kafka/stop.ts";
import { errorText } from "@mat/agents/support";

export { BrokerExitedError } from "./kafka/broker_process.ts";
export { ensureKafkaJars } from "./kafka/jars.ts";
export { type KafkaSettings, kafkaSettings } from "./kafka/settings.ts";
export { startKafka, type StartOptions, type StartResult } from "./kafka/start.ts";
export { type KafkaStatus, kafkaStatus } from "./kafka/status.ts";
export { stopKafka, type StopOptions } from "./kafka/stop.ts";

/** The help, its queue names under `prefix` (`KAFKA_TOPIC_PREFIX`) */
function usage(prefix: string): string {
  return `Usage: deno task kafka <command>

Runs the Kafka broker the agents use.

Commands:
  start    Start the local broker unless it already answers (the first run fetches its jars
           with Maven and formats .kafka/data), wait up to 90 s for it, then create the agent
           queues that are missing (named with KAFKA_TOPIC_PREFIX):
             ${sampleQueues(prefix).join("\n             ")}
  stop     Stop the local broker started by \`start\` (SIGTERM, SIGKILL after 30 s)
  status   Show the broker's pid, whether it answers, its topics and which agent queues
           are missing

Options:
  -h, --help   Show this help

Environment:
  KAFKA_BOOTSTRAP_SERVERS  Use this cluster (host:port,...) instead of a local broker: \`start\`
                           only waits for it and creates the queues, \`stop\` does nothing
  KAFKA_PORT               Port of the local broker (default ${DEFAULT_KAFKA_PORT}; controller: port + 1)
  KAFKA_PARTITIONS         Partitions per queue and the broker default (default ${DEFAULT_PARTITIONS})
  KAFKA_TOPIC_PREFIX       Prefix of the agent queues (default ${DEFAULT_TOPIC_PREFIX}), as the agents read it
  XDG_CACHE_HOME           Jars are cached in \${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry

Exit codes:
  0  Success (\`status\`: the broker answers)
  1  Failure
  2  Usage error
  3  \`status\`: the broker does not answer`;
}

class UsageError extends Error {}

function parseArgs(args: string[]): "start" | "stop" | "status" | "help" {
  let command: "start" | "stop" | "status" | undefined;
  for (const arg of args) {
    if (arg === "-h" || arg === "--help") return "help";
    if (arg.startsWith("-")) throw new UsageError(`Unknown flag "${arg}" (see --help)`);
    if (command !== undefined) throw new UsageError(`Unexpected argument "${arg}" (see --help)`);
    if (arg !== "start" && arg !== "stop" && arg !== "status") {
      throw new UsageError(`Unknown command "${arg}": expected start, stop or status`);
    }
    command = arg;
  }
  if (command === undefined) {
    throw new UsageError("Missing command: expected start, stop or status");
  }
  return command;
}

async function main(args: string[]): Promise<number> {
  let command: ReturnType<typeof parseArgs>;
  try {
    command = parseArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}`);
    return 2;
  }
  switch (command) {
    case "help":
      console.log(usage(topicPrefix()));
      return 0;
    case "start": {
      const result = await startKafka();
      const present = result.topics.filter((topic) => !result.created.includes(topic));
      const parts = [
        ...(result.created.length > 0 ? [`created: ${result.created.join(", ")}`] : []),
        ...(present.length > 0 ? [`already present: ${present.join(", ")}`] : []),
      ];
      console.log(`kafka: ready on ${result.bootstrap} (${parts.join("; ")})`);
      return 0;
    }
    case "stop":
      await stopKafka();
      return 0;
    case "status": {
      const status = await kafkaStatus();
      const where = status.managed
        ? `local broker, state in ${STATE_DIR}`
        : "KAFKA_BOOTSTRAP_SERVERS";
      console.log(`kafka: ${status.bootstrap} (${where})`);
      if (status.managed) {
        const foreign = status.answers ? " (the broker answering was not started here)" : "";
        console.log(
          `pid: ${status.pid === undefined ? `none${foreign}` : `${status.pid} (running)`}`,
        );
      }
      console.log(`broker: ${status.answers ? "answers" : "does not answer"}`);
      if (status.answers) {
        console.log(`topics: ${status.topics.length}`);
        const width = Math.max(0, ...status.topics.map((topic) => topic.name.length));
        for (const topic of status.topics) {
          const count = `${topic.partitions} partition${topic.partitions === 1 ? "" : "s"}`;
          console.log(`  ${topic.name.padEnd(width)}  ${count}`);
        }
        const { prefix, names, missing } = status.queues;
        const present = `${names.length - missing.length} of ${names.length} present`;
        console.log(
          missing.length === 0
            ? `agent queues (prefix "${prefix}"): ${present}`
            : `agent queues (prefix "${prefix}"): ${present}, missing ${missing.join(", ")} ` +
              "(`deno task kafka start` creates them)",
        );
      }
      return status.answers ? 0 : 3;
    }
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    if (error instanceof BrokerExitedError && error.logTail) {
      console.error(`--- last lines of ${LOG_FILE} ---\n${error.logTail}\n---`);
    }
    console.error(`error: ${errorText(error)}`);
    code = 1;
  }
  Deno.exit(code);
}
