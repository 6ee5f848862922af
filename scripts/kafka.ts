/**
 * Runs the Kafka broker the agents talk to: `deno task kafka start|stop|status`.
 *
 * Without `KAFKA_BOOTSTRAP_SERVERS` this manages a single-node KRaft broker on 127.0.0.1:9092
 * (`KAFKA_PORT` overrides the port, the controller listens on the next one). Its jars come from
 * Maven (scripts/kafka/pom.xml) into a cache outside the repo; its state lives in `.kafka/`.
 * With `KAFKA_BOOTSTRAP_SERVERS` set, nothing is managed: `start` waits for that cluster and
 * creates the agent queues, `status` reports whether it answers.
 *
 * The functions are exported for `scripts/test.ts` and `scripts/demo.ts`.
 */

import { type Admin, Kafka, logLevel } from "kafkajs";
import { join } from "node:path";
import { silenceKafkaJsTimeoutWarnings } from "@mat/agents/kafkajs";
import { fileURLToPath } from "node:url";

/** Something to read environment variables from: `Deno.env`, or a stub in tests */
export interface Env {
  get(key: string): string | undefined;
}

/** The queues `start` creates: the four sample agents' and `user`, where `submit` reads answers */
export const AGENT_QUEUES: readonly string[] = [
  "agent-queue-orchestrator",
  "agent-queue-researcher",
  "agent-queue-writer",
  "agent-queue-coder",
  "agent-queue-user",
];

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const POM_FILE = join(REPO_ROOT, "scripts", "kafka", "pom.xml");
/** Where the local broker keeps its config, data, log and pid */
export const STATE_DIR: string = join(REPO_ROOT, ".kafka");
const DATA_DIR = join(STATE_DIR, "data");
const SERVER_PROPERTIES = join(STATE_DIR, "server.properties");
const LOG4J_CONFIG = join(STATE_DIR, "log4j2.properties");
const LOG_FILE = join(STATE_DIR, "kafka.log");
const PID_FILE = join(STATE_DIR, "kafka.pid");
const LOCK_FILE = join(STATE_DIR, "start.lock");

const DEFAULT_PORT = 9092;
const DEFAULT_PARTITIONS = 3;
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;
const POLL_MS = 500;
/** kafka.log is moved to kafka.log.1 at start once it grows past this */
const LOG_ROTATE_BYTES = 20 * 1024 * 1024;
const JVM_OPTIONS = [
  "-Xmx512m",
  "-Xms256m",
  "-XX:+UseG1GC",
  "-XX:MaxGCPauseMillis=20",
  "-XX:InitiatingHeapOccupancyPercent=35",
  "-XX:+ExplicitGCInvokesConcurrent",
  "-Djava.awt.headless=true",
];

/** Where the broker is and whether this script runs it */
export interface KafkaSettings {
  /** `host:port` of each bootstrap server */
  brokers: string[];
  /** True when no `KAFKA_BOOTSTRAP_SERVERS` is set, so the local broker is ours to run */
  managed: boolean;
  /** Client port of the local broker (`KAFKA_PORT`, default 9092) */
  port: number;
  /** Controller port of the local broker: `port + 1` */
  controllerPort: number;
  /** Partitions of each agent queue and the broker's `num.partitions` (`KAFKA_PARTITIONS`) */
  partitions: number;
}

function positiveInteger(env: Env, name: string, fallback: number, max: number): number {
  const raw = env.get(name)?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`Invalid ${name} "${raw}": expected an integer from 1 to ${max}`);
  }
  return value;
}

/** Reads `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_PORT` and `KAFKA_PARTITIONS` */
export function kafkaSettings(env: Env = Deno.env): KafkaSettings {
  const port = positiveInteger(env, "KAFKA_PORT", DEFAULT_PORT, 65534);
  const partitions = positiveInteger(env, "KAFKA_PARTITIONS", DEFAULT_PARTITIONS, 1000);
  const external = (env.get("KAFKA_BOOTSTRAP_SERVERS") ?? "").split(",")
    .map((server) => server.trim())
    .filter((server) => server.length > 0);
  for (const server of external) {
    if (!/^[^\s:]+:\d+$/.test(server) && !/^\[[0-9a-fA-F:.]+\]:\d+$/.test(server)) {
      throw new RangeError(`Invalid KAFKA_BOOTSTRAP_SERVERS entry "${server}": expected host:port`);
    }
  }
  return {
    brokers: external.length > 0 ? external : [`127.0.0.1:${port}`],
    managed: external.length === 0,
    port,
    controllerPort: port + 1,
    partitions,
  };
}

/** The bootstrap servers to give clients, comma separated, e.g. `127.0.0.1:9092` */
export function bootstrapServers(env: Env = Deno.env): string {
  return kafkaSettings(env).brokers.join(",");
}

// ---------------------------------------------------------------------------------------------
// Talking to the broker

export { silenceKafkaJsTimeoutWarnings };

interface ClientOptions {
  /** Retries of each admin request; 0 makes probing a dead broker fail at once */
  retries: number;
}

async function withAdmin<T>(
  brokers: string[],
  options: ClientOptions,
  use: (admin: Admin) => Promise<T>,
): Promise<T> {
  silenceKafkaJsTimeoutWarnings();
  const kafka = new Kafka({
    clientId: "mat-kafka-script",
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: options.retries, initialRetryTime: 250, maxRetryTime: 2_000 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await use(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** True when a broker at `brokers` answers a metadata request within a few seconds */
export async function brokerAnswers(brokers: string[] = kafkaSettings().brokers): Promise<boolean> {
  try {
    await withAdmin(brokers, { retries: 0 }, (admin) => admin.listTopics());
    return true;
  } catch {
    return false;
  }
}

/** A topic and its partition count */
export interface TopicInfo {
  name: string;
  partitions: number;
}

/** The cluster's topics, internal ones (`__consumer_offsets`, ...) left out, sorted by name */
export async function listTopics(
  brokers: string[] = kafkaSettings().brokers,
): Promise<TopicInfo[]> {
  return await withAdmin(brokers, { retries: 2 }, async (admin) => {
    const names = (await admin.listTopics()).filter((name) => !name.startsWith("__")).sort();
    if (names.length === 0) return [];
    const { topics } = await admin.fetchTopicMetadata({ topics: names });
    return topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.length }))
      .sort((a, b) => a.name.localeCompare(b.name));
  });
}

/** Which of the requested topics `ensureTopics` created and which were there already */
export interface EnsuredTopics {
  created: string[];
  existing: string[];
}

/** Creates the missing ones of `topics` with `partitions` partitions and replication factor 1 */
export async function ensureTopics(
  brokers: string[],
  topics: readonly string[],
  partitions: number,
): Promise<EnsuredTopics> {
  return await withAdmin(brokers, { retries: 5 }, async (admin) => {
    const present = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !present.has(topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
        })),
      });
    }
    return { created: missing, existing: topics.filter((topic) => present.has(topic)) };
  });
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function logToStderr(line: string): void {
  console.error(line);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Runs a command to completion; its output is returned, not shown */
async function run(
  command: string,
  args: string[],
  what: string,
): Promise<{ code: number; output: string }> {
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(command, {
      args,
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`Command "${command}" not found on PATH; it is needed to ${what}`);
    }
    throw error;
  }
  const decoder = new TextDecoder();
  const output = decoder.decode(result.stdout) + decoder.decode(result.stderr);
  return { code: result.code, output: output.trimEnd() };
}

function javaCommand(env: Env): string {
  const home = env.get("JAVA_HOME");
  return home ? join(home, "bin", "java") : "java";
}

/** A random Kafka cluster id: 16 random bytes in unpadded base64url, like `Uuid.randomUuid()` */
function randomClusterId(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const id = btoa(String.fromCharCode(...bytes))
      .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    if (!id.startsWith("-")) return id;
  }
}

// ---------------------------------------------------------------------------------------------
// The broker's jars and files

/** The Kafka version pinned by a pom (`kafka.version`), by default scripts/kafka/pom.xml */
export async function kafkaVersion(pomFile: string = POM_FILE): Promise<string> {
  const pom = await Deno.readTextFile(pomFile);
  const version = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pom)?.[1];
  if (version === undefined) throw new Error(`No kafka.version property in "${pomFile}"`);
  return version;
}

function cacheDir(env: Env): string {
  const xdg = env.get("XDG_CACHE_HOME");
  if (xdg && xdg.startsWith("/")) return xdg;
  const home = env.get("HOME");
  if (!home) {
    throw new Error("Neither XDG_CACHE_HOME nor HOME is set: no place to cache Kafka jars");
  }
  return join(home, ".cache");
}

/**
 * The directory holding the broker's jars, fetched with Maven when missing. A marker file written
 * after a complete copy records which pom.xml it came from, so a half-finished copy is redone.
 */
export async function ensureKafkaJars(
  env: Env = Deno.env,
  log: (line: string) => void = logToStderr,
): Promise<string> {
  return await ensureMavenJars(POM_FILE, `kafka-${await kafkaVersion()}`, env, log);
}

/**
 * The runtime jars of `pomFile`, copied by Maven into
 * `<cache>/multi-agent-telemetry/<name>/libs` when missing or made from another pom; returns
 * that directory. scripts/images uses it for the Kafka image's jars.
 */
export async function ensureMavenJars(
  pomFile: string,
  name: string,
  env: Env = Deno.env,
  log: (line: string) => void = logToStderr,
): Promise<string> {
  const base = join(cacheDir(env), "multi-agent-telemetry", name);
  const libs = join(base, "libs");
  const marker = join(base, "complete");
  const wanted = await sha256(await Deno.readTextFile(pomFile));
  const found = await Deno.readTextFile(marker).then((text) => text.trim(), () => undefined);
  if (found === wanted) return libs;

  log(`kafka: fetching the jars of "${pomFile}" with Maven into ${libs}`);
  const started = performance.now();
  await removeIfPresent(marker);
  await removeIfPresent(libs);
  await Deno.mkdir(libs, { recursive: true });
  const { code, output } = await run("mvn", [
    "-q",
    "-B",
    "-f",
    pomFile,
    "dependency:copy-dependencies",
    `-DoutputDirectory=${libs}`,
    "-DincludeScope=runtime",
  ], "fetch the Kafka jars");
  if (code !== 0) {
    if (output) console.error(output);
    throw new Error(`Maven failed to fetch the jars of "${pomFile}" (exit code ${code})`);
  }
  await Deno.writeTextFile(marker, `${wanted}\n`);
  log(`kafka: fetched the jars in ${seconds(performance.now() - started)}`);
  return libs;
}

function serverProperties(settings: KafkaSettings): string {
  const { port, controllerPort, partitions } = settings;
  return [
    "# Generated by scripts/kafka.ts at every `deno task kafka start`: edits are overwritten",
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    `log.dirs=${DATA_DIR}`,
    `num.partitions=${partitions}`,
    "# Agents rely on sending to an unknown agent's queue failing",
    "auto.create.topics.enable=false",
    "delete.topic.enable=true",
    "offsets.topic.replication.factor=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    "log.retention.hours=168",
    "",
  ].join("\n");
}

/** Broker logs (stdout, which start() appends to kafka.log) at INFO, request noise at WARN */
const LOG4J_PROPERTIES = [
  "# Generated by scripts/kafka.ts: the broker's stdout is appended to .kafka/kafka.log",
  "status = warn",
  "# Keep logging until the JVM exits, so that the broker's shutdown is logged too",
  "shutdownHook = disable",
  "appender.stdout.type = Console",
  "appender.stdout.name = STDOUT",
  "appender.stdout.layout.type = PatternLayout",
  "appender.stdout.layout.pattern = [%d] %p %m (%c)%n",
  "rootLogger.level = INFO",
  "rootLogger.appenderRef.stdout.ref = STDOUT",
  "logger.request.name = kafka.request.logger",
  "logger.request.level = WARN",
  "logger.authorizer.name = kafka.authorizer.logger",
  "logger.authorizer.level = WARN",
  "",
].join("\n");

// ---------------------------------------------------------------------------------------------
// The broker process

/** Brokers spawned by this process: their exit is known for sure, and stopping one reaps it */
const children = new Map<number, { child: Deno.ChildProcess; exited: boolean }>();

async function readPidFile(): Promise<number | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(PID_FILE);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** True when `pid` is a live (not zombie) process running this repo's broker */
async function isBrokerProcess(pid: number): Promise<boolean> {
  try {
    Deno.kill(pid, 0);
  } catch {
    return false;
  }
  if (Deno.build.os !== "linux") return true;
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    const cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
    // Empty while the process is between `sh` and `exec java`
    if (cmdline.join("") === "") return true;
    return cmdline.includes("kafka.Kafka") && cmdline.includes(SERVER_PROPERTIES);
  } catch {
    return false;
  }
}

/** Whether the broker `pid` still runs: known for sure for the ones this process spawned */
async function isAlive(pid: number): Promise<boolean> {
  const spawned = children.get(pid);
  return spawned ? !spawned.exited : await isBrokerProcess(pid);
}

/** The pid of this repo's running broker, per .kafka/kafka.pid; stale pid files are removed */
export async function brokerPid(): Promise<number | undefined> {
  const pid = await readPidFile();
  if (pid === undefined) return undefined;
  if (await isBrokerProcess(pid)) return pid;
  await removeIfPresent(PID_FILE);
  return undefined;
}

/** The end of this run's log, after its ERROR/FATAL lines and their causes (shutdown noise follows) */
async function logTail(from: number, lines = 15): Promise<string> {
  let text: string;
  try {
    const bytes = await Deno.readFile(LOG_FILE);
    text = new TextDecoder().decode(bytes.subarray(Math.min(from, bytes.length))).trimEnd();
  } catch {
    return "";
  }
  const all = text.split("\n");
  // Kafka's own verdict and its causes, else the last errors (a failed start logs many)
  const fatal = all.findIndex((line) => line.includes("Exiting Kafka due to fatal exception"));
  const problems = fatal >= 0
    ? [all[fatal] ?? "", ...all.slice(fatal + 1).filter((line) => line.startsWith("Caused by: "))]
    : all.filter((line) => /^\[[^\]]*\] (ERROR|FATAL) /.test(line)).slice(-lines);
  const tail = all.slice(-lines);
  if (problems.length === 0) return tail.join("\n");
  return [...problems, "...", ...tail.filter((line) => !problems.includes(line))].join("\n");
}

/** The broker exited while `start` waited for it; `logTail` holds the end of its log */
export class BrokerExitedError extends Error {
  constructor(readonly pid: number, readonly logTail: string) {
    super(`Kafka broker (pid ${pid}) exited during startup; see "${LOG_FILE}"`);
    this.name = "BrokerExitedError";
  }
}

async function prepareStateDir(settings: KafkaSettings, libs: string, env: Env): Promise<void> {
  await Deno.mkdir(DATA_DIR, { recursive: true });
  await Deno.writeTextFile(SERVER_PROPERTIES, serverProperties(settings));
  await Deno.writeTextFile(LOG4J_CONFIG, LOG4J_PROPERTIES);
  if (await exists(join(DATA_DIR, "meta.properties"))) return;

  // Anything in an unformatted data dir is debris of an interrupted format
  await removeIfPresent(DATA_DIR);
  await Deno.mkdir(DATA_DIR, { recursive: true });
  const clusterId = randomClusterId();
  const { code, output } = await run(javaCommand(env), [
    `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
    "-cp",
    join(libs, "*"),
    "kafka.tools.StorageTool",
    "format",
    "-t",
    clusterId,
    "-c",
    SERVER_PROPERTIES,
  ], "run Kafka");
  if (code !== 0) {
    if (output) console.error(output);
    throw new Error(`Formatting the Kafka storage in "${DATA_DIR}" failed (exit code ${code})`);
  }
}

async function rotateLog(): Promise<void> {
  try {
    if ((await Deno.stat(LOG_FILE)).size > LOG_ROTATE_BYTES) {
      await Deno.rename(LOG_FILE, `${LOG_FILE}.1`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Fails fast when a port the broker needs is taken (Kafka would only notice after ~10 s) */
function assertPortFree(port: number, listener: string): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    throw new Error(
      `Port "${port}" on 127.0.0.1 is in use by another process (the ${listener} listener needs it)`,
    );
  }
}

/** Starts java detached (own session, survives this process), output appended to kafka.log */
async function spawnBroker(libs: string, env: Env): Promise<{ pid: number; logOffset: number }> {
  await rotateLog();
  const logOffset = await Deno.stat(LOG_FILE).then((info) => info.size, () => 0);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >>"$log" 2>&1 </dev/null',
      "sh",
      LOG_FILE,
      javaCommand(env),
      ...JVM_OPTIONS,
      `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
      "-cp",
      join(libs, "*"),
      "kafka.Kafka",
      SERVER_PROPERTIES,
    ],
    cwd: STATE_DIR,
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  const entry = { child, exited: false };
  children.set(child.pid, entry);
  child.status.finally(() => entry.exited = true).catch(() => {});
  await Deno.writeTextFile(PID_FILE, `${child.pid}\n`);
  return { pid: child.pid, logOffset };
}

async function waitForBroker(
  brokers: string[],
  timeoutMs: number,
  deadline: number,
  watch: { pid: number; logOffset: number } | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    if (watch && !(await isAlive(watch.pid))) {
      if ((await readPidFile()) === watch.pid) await removeIfPresent(PID_FILE);
      throw new BrokerExitedError(watch.pid, await logTail(watch.logOffset));
    }
    if (await brokerAnswers(brokers)) return;
    if (Date.now() >= deadline) {
      const where = watch
        ? `; it still runs as pid ${watch.pid}, see "${LOG_FILE}" (\`deno task kafka stop\` stops it)`
        : "";
      throw new Error(
        `Kafka at "${brokers.join(",")}" did not answer within ${seconds(timeoutMs)}${where}`,
      );
    }
    await sleep(POLL_MS, signal);
  }
}

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
  /** The agent queues, all present now */
  topics: string[];
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
    if (options.stopOnFailure) await stopKafka({ env, log }).catch(() => {});
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

  const ensured = await ensureTopics(settings.brokers, AGENT_QUEUES, settings.partitions);
  if (ensured.created.length > 0) {
    log(
      `kafka: created ${
        ensured.created.join(", ")
      } (${settings.partitions} partitions, replication 1)`,
    );
  }
  if (ensured.existing.length > 0) log(`kafka: already present: ${ensured.existing.join(", ")}`);
  const result: StartResult = { bootstrap, started, topics: [...AGENT_QUEUES] };
  if (pid !== undefined) result.pid = pid;
  return result;
}

export interface StopOptions {
  env?: Env;
  log?: (line: string) => void;
}

/** Stops the local broker: SIGTERM, then SIGKILL after 30 s. Returns whether one was running */
export async function stopKafka(options: StopOptions = {}): Promise<boolean> {
  const env = options.env ?? Deno.env;
  const log = options.log ?? logToStderr;
  const settings = kafkaSettings(env);
  if (!settings.managed) {
    log("kafka: KAFKA_BOOTSTRAP_SERVERS is set: no local broker is managed, nothing to stop");
    return false;
  }
  const pid = await brokerPid();
  if (pid === undefined) {
    const other = await brokerAnswers(settings.brokers);
    log(
      other
        ? `kafka: not running here (no ${PID_FILE}); the broker answering on ${
          settings.brokers[0]
        } was not started by this script and is left alone`
        : "kafka: not running",
    );
    return false;
  }

  const began = performance.now();
  const spawned = children.get(pid);
  const exited = async (ms: number): Promise<boolean> => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!(await isAlive(pid))) return true;
      await sleep(100);
    }
    return !(await isAlive(pid));
  };
  log(`kafka: stopping broker (pid ${pid})`);
  try {
    Deno.kill(pid, "SIGTERM");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (!(await exited(STOP_TIMEOUT_MS))) {
    log(`kafka: broker did not exit within ${seconds(STOP_TIMEOUT_MS)}: sending SIGKILL`);
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // It exited meanwhile
    }
    if (!(await exited(5_000))) throw new Error(`Kafka broker (pid ${pid}) survived SIGKILL`);
  }
  if (spawned) {
    await spawned.child.status.catch(() => {});
    children.delete(pid);
  }
  await removeIfPresent(PID_FILE);
  log(`kafka: stopped broker (pid ${pid}) in ${seconds(performance.now() - began)}`);
  return true;
}

/** What `status` reports */
export interface KafkaStatus {
  bootstrap: string;
  managed: boolean;
  /** Pid of the running local broker (managed mode only) */
  pid?: number;
  answers: boolean;
  /** The cluster's topics, when it answers */
  topics: TopicInfo[];
}

export async function kafkaStatus(env: Env = Deno.env): Promise<KafkaStatus> {
  const settings = kafkaSettings(env);
  const status: KafkaStatus = {
    bootstrap: settings.brokers.join(","),
    managed: settings.managed,
    answers: await brokerAnswers(settings.brokers),
    topics: [],
  };
  if (settings.managed) {
    const pid = await brokerPid();
    if (pid !== undefined) status.pid = pid;
  }
  if (status.answers) status.topics = await listTopics(settings.brokers);
  return status;
}

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `Usage: deno task kafka <command>

Runs the Kafka broker the agents use.

Commands:
  start    Start the local broker unless it already answers (the first run fetches its jars
           with Maven and formats .kafka/data), wait up to 90 s for it, then create the agent
           queues that are missing:
             ${AGENT_QUEUES.join("\n             ")}
  stop     Stop the local broker started by \`start\` (SIGTERM, SIGKILL after 30 s)
  status   Show the broker's pid, whether it answers, and its topics

Options:
  -h, --help   Show this help

Environment:
  KAFKA_BOOTSTRAP_SERVERS  Use this cluster (host:port,...) instead of a local broker: \`start\`
                           only waits for it and creates the queues, \`stop\` does nothing
  KAFKA_PORT               Port of the local broker (default ${DEFAULT_PORT}; controller: port + 1)
  KAFKA_PARTITIONS         Partitions per queue and the broker default (default ${DEFAULT_PARTITIONS})
  XDG_CACHE_HOME           Jars are cached in \${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry

Exit codes:
  0  Success (\`status\`: the broker answers)
  1  Failure
  2  Usage error
  3  \`status\`: the broker does not answer`;

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
      console.log(USAGE);
      return 0;
    case "start": {
      const result = await startKafka();
      console.log(`kafka: ready on ${result.bootstrap} (topics: ${result.topics.join(", ")})`);
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
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    code = 1;
  }
  Deno.exit(code);
}
