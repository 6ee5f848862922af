/**
 * `deno task observe`: the observer (watcher, queue health, snapshots) and its HTTP API in one
 * process, until SIGTERM or Ctrl-C. Exit codes: 0 after a clean stop, 1 on a fatal error (the
 * files cannot be read), 2 on a configuration error: a bad setting, a data directory it may not
 * write, a port in use (one `error:` line on stderr). Logs are JSON lines on stderr.
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
  // The port first: a port in use (another observer, most likely on the same files) ends this
  // one before it opens or writes anything. Until the observer is open, the API answers 503.
  let handler: (req: Request) => Response | Promise<Response> = () =>
    Response.json({ status: "starting" }, { status: 503 });
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: config.host,
      port: config.port,
      onListen: ({ hostname, port }) =>
        log("info", "observer listening", { hostname, port, data_dir: config.dataDir }),
    }, (req) => handler(req));
  } catch (err) {
    if (!(err instanceof Deno.errors.AddrInUse || err instanceof Deno.errors.AddrNotAvailable)) {
      throw err;
    }
    console.error(
      `error: cannot listen on ${config.host}:${config.port} (OBSERVER_HOST, OBSERVER_PORT): ${
        err instanceof Deno.errors.AddrInUse ? "the port is in use" : "no such address here"
      }`,
    );
    return 2;
  }
  const kafka = new KafkaAdapter({ brokers: config.brokers, clientId: "telemetry-observer" });
  let observer: Observer;
  try {
    observer = await Observer.open(config, kafka, log);
  } catch (err) {
    await server.shutdown();
    await kafka.close();
    // A directory it may not write, or a file where it should be: the setting is wrong
    if (
      err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotADirectory ||
      err instanceof Deno.errors.AlreadyExists
    ) {
      console.error(
        `error: cannot write the time machine in "${config.dataDir}" (TELEMETRY_DATA_DIR): ${
          errorText(err)
        }`,
      );
      return 2;
    }
    log("error", "cannot open the time machine", { error: errorText(err) });
    return 1;
  }
  observer.processSource = processSource;
  observer.start();
  handler = createApp(observer, log).fetch;
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
