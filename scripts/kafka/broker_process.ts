/**
 * The local broker's java process: spawned detached with its output appended to `.kafka/kafka.log`,
 * found again by `.kafka/kafka.pid`, and waited on until it answers or exits
 */

import { join } from "node:path";
import { javaCommand, seconds } from "./_util.ts";
import { brokerAnswers } from "./admin.ts";
import { JVM_OPTIONS } from "./broker_config.ts";
import { LOG4J_CONFIG, LOG_FILE, PID_FILE, SERVER_PROPERTIES, STATE_DIR } from "./paths.ts";
import type { Env } from "./settings.ts";
import { sleep } from "@mat/agents/support";
import { removeIfPresent } from "../files.ts";

/** How often a start polls the broker (and the start lock) */
export const POLL_MS = 500;
/** kafka.log is moved to kafka.log.1 at start once it grows past this */
const LOG_ROTATE_BYTES = 20 * 1024 * 1024;

/** A broker process to watch while waiting for it, and where its run's log begins */
export interface BrokerWatch {
  pid: number;
  logOffset: number;
}

/** Brokers spawned by this process: their exit is known for sure, and stopping one reaps it */
export const children = new Map<number, { child: Deno.ChildProcess; exited: boolean }>();

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
export async function isAlive(pid: number): Promise<boolean> {
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
export function assertPortFree(port: number, listener: string): void {
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
export async function spawnBroker(libs: string, env: Env): Promise<BrokerWatch> {
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
  // only that it exited matters here; its status is read where it is awaited
  child.status.finally(() => entry.exited = true).catch(() => {});
  await Deno.writeTextFile(PID_FILE, `${child.pid}\n`);
  return { pid: child.pid, logOffset };
}

/**
 * Polls `brokers` until they answer; fails when the watched broker exits (with its log's tail) or
 * at `deadline`
 */
export async function waitForBroker(
  brokers: string[],
  timeoutMs: number,
  deadline: number,
  watch: BrokerWatch | undefined,
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
    signal?.throwIfAborted();
  }
}
