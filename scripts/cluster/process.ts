/**
 * The cluster's long-running processes: each started in its own session so it outlives
 * `cluster up`, its output appended to `.cluster/logs/<name>.log` and its pid and binary kept in
 * `.cluster/run/<name>.json`, which `status` and `down` read.
 */

import { join } from "node:path";
import { isRunning } from "../kube_apiserver/process.ts";
import { paths } from "./paths.ts";
import { errorText, isRecord, sleep } from "@mat/agents/support";

/** Every process the cluster runs, in start order; `down` stops them in reverse */
export const COMPONENTS = [
  "containerd",
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubelet",
  "kube-proxy",
  "coredns",
] as const;
export type Component = typeof COMPONENTS[number];

/** What `.cluster/run/<name>.json` holds */
export interface Running {
  pid: number;
  binary: string;
}

export function log(line: string): void {
  console.error(`cluster: ${line}`);
}

export function logFile(name: Component): string {
  return join(paths.logs, `${name}.log`);
}

function pidFile(name: Component): string {
  return join(paths.run, `${name}.json`);
}

function parseRunning(text: string, file: string): Running {
  const value: unknown = JSON.parse(text);
  if (isRecord(value) && typeof value.pid === "number" && typeof value.binary === "string") {
    return { pid: value.pid, binary: value.binary };
  }
  throw new SyntaxError(`Pid file "${file}" does not hold {"pid": number, "binary": string}`);
}

/** The component's process when it is alive, otherwise undefined */
export async function running(name: Component): Promise<Running | undefined> {
  const file = pidFile(name);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const process = parseRunning(text, file);
  return (await isRunning(process.pid, process.binary)) ? process : undefined;
}

/** Starts `binary args...` detached (setsid), output to its log; returns its pid */
export async function spawnComponent(
  name: Component,
  binary: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<number> {
  await Deno.mkdir(paths.logs, { recursive: true });
  await Deno.mkdir(paths.run, { recursive: true });
  const child = new Deno.Command("setsid", {
    args: [
      "sh",
      "-c",
      'log="$1"; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      logFile(name),
      binary,
      ...args,
    ],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  // setsid execs (no fork: Deno's child is no group leader) and sh execs: the pid is the binary's.
  await Deno.writeTextFile(pidFile(name), JSON.stringify({ pid: child.pid, binary }) + "\n");
  // Until both execs are done the pid runs setsid or sh, and `running` would say it is gone.
  const deadline = performance.now() + 5_000;
  while (!(await isRunning(child.pid, binary))) {
    const exited = await Promise.race([child.status.then(() => true), sleep(20).then(() => false)]);
    if (exited || performance.now() > deadline) {
      throw new Error(`${name} did not start ("${binary}"); its log ends:\n${await logTail(name)}`);
    }
  }
  return child.pid;
}

/** The last lines of a component's log, for error messages */
export async function logTail(name: Component, lines = 30): Promise<string> {
  try {
    const text = await Deno.readTextFile(logFile(name));
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "(no log written)";
    throw error;
  }
}

/** Polls `probe` until true; fails when the component dies or `timeoutMs` passes */
export async function waitUntil(
  name: Component,
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError = "";
  while (true) {
    if ((await running(name)) === undefined) {
      throw new Error(
        `${name} exited while waiting for ${what}; its log ends:\n${await logTail(name)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = errorText(error);
    }
    if (performance.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs / 1000}s waiting for ${what}` +
          `${lastError ? ` (last error: ${lastError})` : ""}; ${name}'s log ends:\n${await logTail(
            name,
          )}`,
      );
    }
    await sleep(250);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; removes the pid file */
export async function stopComponent(name: Component, graceMs = 15_000): Promise<void> {
  const process = await running(name);
  if (process !== undefined) {
    log(`stopping ${name} (pid ${process.pid})`);
    Deno.kill(process.pid, "SIGTERM");
    const deadline = performance.now() + graceMs;
    while (performance.now() < deadline && (await isRunning(process.pid, process.binary))) {
      await sleep(200);
    }
    if (await isRunning(process.pid, process.binary)) {
      log(`${name} (pid ${process.pid}) ignored SIGTERM for ${graceMs / 1000}s: SIGKILL`);
      Deno.kill(process.pid, "SIGKILL");
      for (let i = 0; i < 50 && (await isRunning(process.pid, process.binary)); i++) {
        await sleep(100);
      }
      if (await isRunning(process.pid, process.binary)) {
        throw new Error(`${name} (pid ${process.pid}) survived SIGKILL`);
      }
    }
  }
  await Deno.remove(pidFile(name)).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/** Runs a command to completion; throws with its stderr when it fails */
export async function run(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: Uint8Array } = {},
): Promise<string> {
  const child = new Deno.Command(command, {
    args: [...args],
    env: options.env ?? {},
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  if (!output.success) {
    const stderr = decoder.decode(output.stderr).trim().split("\n").slice(-20).join("\n");
    throw new Error(
      `"${[command, ...args].join(" ")}" failed (exit code ${output.code}): ${stderr}`,
    );
  }
  return decoder.decode(output.stdout);
}
