/**
 * `start`: makes sure a broker answers and the agent queues exist (under `KAFKA_TOPIC_PREFIX`),
 * starting the local broker when it is ours to run and down
 */

import { logToStderr, seconds } from "./_util.ts";
import { brokerAnswers, ensureTopics } from "./admin.ts";
import { prepareStateDir } from "./broker_config.ts";
import {
  assertPortFree,
  brokerPid,
  POLL_MS,
  spawnBroker,
  waitForBroker,
} from "./broker_process.ts";
import { ensureKafkaJars } from "./jars.ts";
import { LOCK_FILE, LOG_FILE, STATE_DIR } from "./paths.ts";
import { type Env, type KafkaSettings, kafkaSettings } from "./settings.ts";
import { stopKafka } from "./stop.ts";
import { errorText, sleep } from "@mat/agents/support";

const START_TIMEOUT_MS = 90_000;

export interface StartOptions {
  env?: Env;
  /** Where progress lines go (default: stderr) */
  log?: (line: string) => void;
  /** How long to wait for the broker to answer, default 90 s */
  timeoutMs?: number;
  /** Stop waiting (the broker keeps starting) */
  signal?: AbortSignal;
  /** Kill the broker this call spawned if it does not come up (the CLI leaves it for inspection) */
  stopOnFailure?: boolean;
}

export interface StartResult {
  /** Bootstrap servers, comma separated */
  bootstrap: string;
  /** True when this call spawned the broker (so the caller may want to stop it) */
  started: boolean;
  /** The agent queues (`KAFKA_TOPIC_PREFIX<agent>`), all present now */
  topics: string[];
  /** Those of `topics` this call created */
  created: string[];
  /** Pid of the local broker, when it is managed here and known */
  pid?: number;
}

function logRunning(log: (line: string) => void, bootstrap: string, pid: number | undefined): void {
  log(
    pid === undefined
      ? `kafka: a broker already answers on ${bootstrap} (not started by this script)`
      : `kafka: broker already running (pid ${pid}) on ${bootstrap}`,
  );
}

/**
 * Serializes starts (say two `deno task test` at once) with an advisory lock on .kafka/start.lock,
 * which the OS also releases when the holder dies
 */
async function lockStarts(
  deadline: number,
  signal: AbortSignal | undefined,
  log: (line: string) => void,
): Promise<Deno.FsFile> {
  await Deno.mkdir(STATE_DIR, { recursive: true });
  const file = await Deno.open(LOCK_FILE, { create: true, write: true });
  try {
    let told = false;
    while (!(await file.tryLock(true))) {
      if (!told) log("kafka: another start of the broker is under way: waiting for it");
      told = true;
      if (Date.now() >= deadline) {
        throw new Error(`Another start of the broker kept "${LOCK_FILE}" locked for too long`);
      }
      await sleep(POLL_MS, signal);
      signal?.throwIfAborted();
    }
    return file;
  } catch (error) {
    file.close();
    throw error;
  }
}

/** The part of `startKafka` that runs under the start lock: start the local broker unless up */
async function startManaged(
  settings: KafkaSettings,
  env: Env,
  log: (line: string) => void,
  timeoutMs: number,
  deadline: number,
  options: StartOptions,
): Promise<{ pid: number | undefined; started: boolean }> {
  const bootstrap = settings.brokers.join(",");
  if (await brokerAnswers(settings.brokers)) {
    const pid = await brokerPid();
    logRunning(log, bootstrap, pid);
    return { pid, started: false };
  }
  const running = await brokerPid();
  if (running !== undefined) {
    log(`kafka: broker process ${running} is up but not answering yet: waiting`);
    const watch = { pid: running, logOffset: 0 };
    await waitForBroker(settings.brokers, timeoutMs, deadline, watch, options.signal);
    return { pid: running, started: false };
  }

  assertPortFree(settings.port, "client");
  assertPortFree(settings.controllerPort, "controller");
  const libs = await ensureKafkaJars(env, log);
  log(`kafka: preparing ${STATE_DIR}`);
  await prepareStateDir(settings, libs, env);
  const spawned = await spawnBroker(libs, env);
  log(`kafka: started broker (pid ${spawned.pid}), log in ${LOG_FILE}; waiting for ${bootstrap}`);
  try {
    await waitForBroker(settings.brokers, timeoutMs, deadline, spawned, options.signal);
  } catch (error) {
    if (options.stopOnFailure) {
      await stopKafka({ env, log }).catch((stopError) =>
        log(`kafka: cannot stop the broker after a failed start: ${errorText(stopError)}`)
      );
    }
    throw error;
  }
  return { pid: spawned.pid, started: true };
}

/**
 * Makes sure a broker answers and the agent queues exist. A managed broker that is not running is
 * started (jars fetched, storage formatted on first use); otherwise this only waits and ensures.
 */
export async function startKafka(options: StartOptions = {}): Promise<StartResult> {
  const env = options.env ?? Deno.env;
  const log = options.log ?? logToStderr;
  const settings = kafkaSettings(env);
  const bootstrap = settings.brokers.join(",");
  const began = performance.now();
  const timeoutMs = options.timeoutMs ?? START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let started = false;
  let pid: number | undefined;

  if (!settings.managed) {
    log(`kafka: KAFKA_BOOTSTRAP_SERVERS is set: waiting for ${bootstrap} (no local broker)`);
    await waitForBroker(settings.brokers, timeoutMs, deadline, undefined, options.signal);
  } else if (await brokerAnswers(settings.brokers)) {
    pid = await brokerPid();
    logRunning(log, bootstrap, pid);
  } else {
    const lock = await lockStarts(deadline, options.signal, log);
    try {
      ({ pid, started } = await startManaged(settings, env, log, timeoutMs, deadline, options));
    } finally {
      lock.close();
    }
    if (started) log(`kafka: broker answered after ${seconds(performance.now() - began)}`);
  }

  const ensured = await ensureTopics(settings.brokers, settings.queues, settings.partitions);
  if (ensured.created.length > 0) {
    log(
      `kafka: created ${
        ensured.created.join(", ")
      } (${settings.partitions} partitions, replication 1)`,
    );
  }
  if (ensured.existing.length > 0) log(`kafka: already present: ${ensured.existing.join(", ")}`);
  const result: StartResult = {
    bootstrap,
    started,
    topics: [...settings.queues],
    created: ensured.created,
  };
  if (pid !== undefined) result.pid = pid;
  return result;
}
