/**
 * `deno task observe`: the observer (watcher, queue health, snapshots) and its HTTP API in one
 * process, until SIGTERM or Ctrl-C. Exit codes: 0 after a clean stop, 1 on a fatal error (the
 * files cannot be opened), 2 on a configuration error. Logs are JSON lines on stderr.
 */

import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config.ts";
import { processSourceFromEnv } from "./process_source_config.ts";
import { createApp } from "./http_api.ts";
import { KafkaAdapter } from "./kafka_adapter.ts";
import { Observer } from "./observer.ts";
import { errorText } from "@mat/agents/support";

const USAGE = `Usage: deno task observe

Watches every agent queue ($KAFKA_TOPIC_PREFIX*, default agent-queue-*) without touching it and
keeps the time machine in $TELEMETRY_DATA_DIR (default ./telemetry_data):
diff_time_machine.jsonl (events) and state_time_machine.jsonl (snapshots).
Serves the read-only API on $OBSERVER_HOST:$OBSERVER_PORT (default 127.0.0.1:8080).
Settings are environment variables: see README.md, "Environment variables".`;

function log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}) {
  console.error(
    JSON.stringify({ ts: new Date().toISOString(), level, component: "observer", msg, ...fields }),
  );
}

async function main(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { help: { type: "boolean", short: "h", default: false } },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 2;
  }
  let config;
  let processSource;
  try {
    config = loadConfig();
    processSource = await processSourceFromEnv(Deno.env, log);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const kafka = new KafkaAdapter({ brokers: config.brokers, clientId: "telemetry-observer" });
  let observer: Observer;
  try {
    observer = await Observer.open(config, kafka, log);
  } catch (err) {
    log("error", "cannot open the time machine", {
      error: errorText(err),
    });
    return 1;
  }
  observer.processSource = processSource;
  observer.start();
  const app = createApp(observer);
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) =>
      log("info", "observer listening", { hostname, port, data_dir: config.dataDir }),
  }, app.fetch);
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  Deno.addSignalListener("SIGINT", () => stop.resolve());
  await stop.promise;
  log("info", "observer stopping");
  await server.shutdown();
  await observer.stop();
  await kafka.close();
  log("info", "observer stopped", { diff_seq: observer.diff.lastSeq });
  return 0;
}

Deno.exit(await main(Deno.args));
