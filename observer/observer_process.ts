/**
 * `deno task observe` as a child process of a harness (the eval, the demo scenarios): the
 * observer watching the queues under a topic prefix and the local agents' processes, with its
 * output discarded. Exported as `@mat/observer/process`.
 */

import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

export interface ObserverProcessOptions {
  /** `KAFKA_BOOTSTRAP_SERVERS` */
  bootstrap: string;
  /** `KAFKA_TOPIC_PREFIX` */
  prefix: string;
  /** `TELEMETRY_DATA_DIR` */
  dataDir: string;
  /** `OBSERVER_PORT` */
  port: number;
  /** `AGENTS_STATE_DIR`, where the local agents' supervisor reports their processes */
  stateDir: string;
  /** `SNAPSHOT_INTERVAL`, seconds */
  snapshotIntervalS: number;
  /** More settings (KAFKA_TOPIC_PATTERN, OBSERVER_MAPPINGS...), over the ones above */
  env?: Record<string, string>;
}

/**
 * Starts the observer with the local runtime source, a queue poll of 500 ms and the groups reading
 * the queues asked for every second (a harness starts groups and wants them seen at once)
 */
export function spawnObserver(options: ObserverProcessOptions): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN],
    env: {
      KAFKA_BOOTSTRAP_SERVERS: options.bootstrap,
      KAFKA_TOPIC_PREFIX: options.prefix,
      TELEMETRY_DATA_DIR: options.dataDir,
      OBSERVER_PORT: String(options.port),
      SNAPSHOT_INTERVAL: String(options.snapshotIntervalS),
      OBSERVER_QUEUE_POLL_MS: "500",
      OBSERVER_GROUP_REFRESH_MS: "1000",
      RUNTIME_SOURCE: "local",
      AGENTS_STATE_DIR: options.stateDir,
      ...options.env,
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}
