/**
 * The CLI's server: `start` runs one in `.kube-test/` that outlives the command and saves its
 * pids there, which `status` and `stop` read
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { log } from "./_util.ts";
import { ensureKubeBinaries } from "./build.ts";
import { isRunning, POLL_MS, STOP_TIMEOUT_MS } from "./process.ts";
import { startKubeApiServer } from "./server.ts";
import { sleep } from "@mat/agents/support";
import { removeIfPresent } from "../files.ts";

/** Where the CLI's `start` keeps its server's data, certs, logs, kubeconfig and pids */
export const STATE_DIR: string = fileURLToPath(new URL("../../.kube-test", import.meta.url));
const STATE_FILE = join(STATE_DIR, "state.json");

/** What `start` saves of the server it started */
export interface SavedState {
  url: string;
  kubeconfigPath: string;
  pids: { etcd: number; kubeApiServer: number };
  binaries: { etcd: string; kubeApiServer: string };
}

function parseSavedState(text: string): SavedState {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null) throw new Error("State file is not an object");
  const record = value as Record<string, unknown>;
  const pids = record.pids as Record<string, unknown> | null | undefined;
  const binaries = record.binaries as Record<string, unknown> | null | undefined;
  if (
    typeof record.url !== "string" || typeof record.kubeconfigPath !== "string" ||
    typeof pids !== "object" || pids === null || typeof pids.etcd !== "number" ||
    typeof pids.kubeApiServer !== "number" || typeof binaries !== "object" ||
    binaries === null || typeof binaries.etcd !== "string" ||
    typeof binaries.kubeApiServer !== "string"
  ) {
    throw new Error(`State file "${STATE_FILE}" does not have the expected fields`);
  }
  return {
    url: record.url,
    kubeconfigPath: record.kubeconfigPath,
    pids: { etcd: pids.etcd, kubeApiServer: pids.kubeApiServer },
    binaries: { etcd: binaries.etcd, kubeApiServer: binaries.kubeApiServer },
  };
}

async function readSavedState(): Promise<SavedState | undefined> {
  try {
    return parseSavedState(await Deno.readTextFile(STATE_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function killPid(pid: number, binary: string, name: string): Promise<void> {
  if (!(await isRunning(pid, binary))) return;
  log(`stopping ${name} (pid ${pid})`);
  Deno.kill(pid, "SIGTERM");
  const deadline = performance.now() + STOP_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (!(await isRunning(pid, binary))) return;
    await sleep(POLL_MS);
  }
  Deno.kill(pid, "SIGKILL");
  for (let i = 0; i < 20 && (await isRunning(pid, binary)); i++) await sleep(POLL_MS);
  if (await isRunning(pid, binary)) throw new Error(`${name} (pid ${pid}) survived SIGKILL`);
}

export async function cliStatus(): Promise<SavedState | undefined> {
  const state = await readSavedState();
  if (state === undefined) return undefined;
  const up = (await isRunning(state.pids.kubeApiServer, state.binaries.kubeApiServer)) &&
    (await isRunning(state.pids.etcd, state.binaries.etcd));
  return up ? state : undefined;
}

export async function cliStop(): Promise<void> {
  const state = await readSavedState();
  if (state !== undefined) {
    await killPid(state.pids.kubeApiServer, state.binaries.kubeApiServer, "kube-apiserver");
    await killPid(state.pids.etcd, state.binaries.etcd, "etcd");
  }
  await removeIfPresent(STATE_DIR);
}

export async function cliStart(): Promise<void> {
  const running = await cliStatus();
  if (running) {
    log(`already running at ${running.url}`);
    console.log(`export KUBECONFIG=${running.kubeconfigPath}`);
    return;
  }
  await cliStop(); // a half-dead server or stale state from an earlier run
  await Deno.mkdir(STATE_DIR, { recursive: true });
  const binaries = await ensureKubeBinaries();
  const server = await startKubeApiServer({ dir: STATE_DIR, detached: true });
  const state: SavedState = {
    url: server.url,
    kubeconfigPath: server.kubeconfigPath,
    pids: server.pids,
    binaries: { etcd: binaries.etcd, kubeApiServer: binaries.kubeApiServer },
  };
  await Deno.writeTextFile(STATE_FILE, JSON.stringify(state, null, 2) + "\n");
  log(
    `logs in ${STATE_DIR}/{etcd,kube-apiserver}.log; ` +
      "stop with: deno run -A scripts/kube_apiserver.ts stop",
  );
  console.log(`export KUBECONFIG=${server.kubeconfigPath}`);
  console.log(`alias kubectl=${server.kubectl}`);
}
