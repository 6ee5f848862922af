/**
 * etcd's and kube-apiserver's processes: each run under `sh` with its output appended to a log,
 * watched while the server starts, and killed by a watchdog if this process dies without stopping
 * them
 */

import { tail } from "./_util.ts";
import type { BinaryName } from "./build.ts";
import { errorText, sleep } from "@mat/agents/support";

export const STOP_TIMEOUT_MS = 15_000;
export const POLL_MS = 250;

/** A process we started, with its exit noticed as soon as it happens */
export interface Managed {
  name: BinaryName;
  child: Deno.ChildProcess;
  logFile: string;
  exited: boolean;
  status: Promise<Deno.CommandStatus>;
}

/** Runs `binary args...` with stdout and stderr appended to `logFile`; the pid is the binary's */
export function spawnLogged(
  name: BinaryName,
  binary: string,
  args: readonly string[],
  logFile: string,
  detached: boolean,
): Managed {
  const child = new Deno.Command("sh", {
    args: ["-c", 'log="$1"; shift; exec "$@" >>"$log" 2>&1', "sh", logFile, binary, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  if (detached) child.unref();
  const managed: Managed = { name, child, logFile, exited: false, status: child.status };
  managed.status = child.status.then((status) => {
    managed.exited = true;
    return status;
  });
  return managed;
}

const WATCHDOG_SCRIPT = `parent="$1"; pid_file="$2"; remove_dir="$3"
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
pids=$(cat "$pid_file" 2>/dev/null)
if [ -n "$pids" ]; then
  kill -TERM $pids 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $pids 2>/dev/null || break; sleep 1; done
  kill -KILL $pids 2>/dev/null
fi
if [ -n "$remove_dir" ]; then rm -rf "$remove_dir"; fi
exit 0`;

/**
 * A shell that, once this Deno process is gone (a crashed test never calls stop), kills the
 * pids listed in `pidFile` and removes `removeDir` when given
 */
export function spawnWatchdog(pidFile: string, removeDir: string | undefined): Deno.ChildProcess {
  const child = new Deno.Command("sh", {
    args: ["-c", WATCHDOG_SCRIPT, "kube-watchdog", String(Deno.pid), pidFile, removeDir ?? ""],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  return child;
}

export async function terminate(process: Managed): Promise<void> {
  if (process.exited) return;
  try {
    process.child.kill("SIGTERM");
  } catch (error) {
    if (!(error instanceof TypeError)) throw error; // already exited
  }
  const timedOut = await Promise.race([
    process.status.then(() => false),
    sleep(STOP_TIMEOUT_MS).then(() => true),
  ]);
  if (timedOut && !process.exited) {
    try {
      process.child.kill("SIGKILL");
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
    }
  }
  await process.status;
}

class ProcessExitedError extends Error {
  constructor(process: Managed, logTail: string) {
    super(
      `${process.name} (pid ${process.child.pid}) exited during startup; ` +
        `the end of "${process.logFile}":\n${logTail}`,
    );
    this.name = "ProcessExitedError";
  }
}

/** Polls `probe` until it returns true, failing when a watched process exits or time runs out */
export async function waitFor(
  what: string,
  deadline: number,
  watched: readonly Managed[],
  probe: () => Promise<boolean>,
): Promise<void> {
  let lastError = "";
  while (true) {
    for (const process of watched) {
      if (process.exited) throw new ProcessExitedError(process, await tail(process.logFile));
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = errorText(error);
    }
    if (performance.now() > deadline) {
      const logs = await Promise.all(
        watched.map(async (p) => `--- ${p.logFile}\n${await tail(p.logFile, 20)}`),
      );
      throw new Error(
        `Timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}\n` +
          logs.join("\n"),
      );
    }
    await sleep(POLL_MS);
  }
}

/** True when `pid` is a live (not zombie) process running `binary` */
export async function isRunning(pid: number, binary: string): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    if (/\) Z /.test(stat)) return false;
    const argv0 = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0")[0];
    return argv0 === binary;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
