/**
 * The venv the custom-JSON system runs in, outside the repository: `$XDG_CACHE_HOME` (else
 * `$HOME/.cache`) + `/multi-agent-telemetry/venv-custom-json-<hash>`, `<hash>` the first 12 hex
 * digits of the SHA-256 of `requirements.txt` (a changed pin makes a new venv). `python3 -m venv`,
 * then `pip install -r requirements.txt`; the marker file written after pip succeeds makes the
 * next install a no-op. An exclusive lock on `<venv>.lock` keeps two installs from racing.
 */

import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { textLines } from "@mat/agents/lines";

export const REQUIREMENTS = fileURLToPath(new URL("./requirements.txt", import.meta.url));
const MARKER = ".installed";
/** Lines of a failed command's output quoted in its error */
const TAIL_LINES = 20;

interface Env {
  get(key: string): string | undefined;
}

/** An install step (venv, pip) that failed */
export class InstallError extends Error {
  override name = "InstallError";
  constructor(message: string, readonly command: string[], readonly code: number) {
    super(message);
  }
}

/** `$XDG_CACHE_HOME`, else `$HOME/.cache` */
export function cacheHome(env: Env = Deno.env): string {
  const xdg = env.get("XDG_CACHE_HOME")?.trim();
  if (xdg) return xdg;
  const home = env.get("HOME")?.trim();
  if (!home) throw new RangeError("Cannot find a cache folder: XDG_CACHE_HOME and HOME are unset");
  return `${home}/.cache`;
}

/** The venv's folder for the requirements as they are now */
export function venvDir(env: Env = Deno.env): string {
  const hash = createHash("sha256").update(Deno.readFileSync(REQUIREMENTS)).digest("hex");
  return `${cacheHome(env)}/multi-agent-telemetry/venv-custom-json-${hash.slice(0, 12)}`;
}

export function venvPython(env: Env = Deno.env): string {
  return `${venvDir(env)}/bin/python`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Runs `command`, each line it prints to `log`; throws InstallError when it fails */
async function run(command: string[], log: (line: string) => void): Promise<void> {
  const [program, ...args] = command;
  if (program === undefined) throw new RangeError("Empty command");
  const child = new Deno.Command(program, {
    args,
    env: { PIP_DISABLE_PIP_VERSION_CHECK: "1", PYTHONDONTWRITEBYTECODE: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail: string[] = [];
  const forward = async (stream: ReadableStream<Uint8Array>) => {
    for await (const line of textLines(stream)) {
      log(line);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    }
  };
  const [status] = await Promise.all([child.status, forward(child.stdout), forward(child.stderr)]);
  if (!status.success) {
    throw new InstallError(
      `Command "${command.join(" ")}" failed with exit code ${status.code}: ${tail.join("\n")}`,
      command,
      status.code,
    );
  }
}

/** Makes the venv and installs the pinned requirements, unless a previous install finished */
export async function installVenv(log: (line: string) => void, env: Env = Deno.env): Promise<void> {
  const dir = venvDir(env);
  await Deno.mkdir(`${dir}/..`, { recursive: true });
  const lock = await Deno.open(`${dir}.lock`, { create: true, write: true });
  try {
    await lock.lock(true);
    if (await exists(`${dir}/${MARKER}`)) {
      log(`custom-json: venv ready at ${dir}`);
      return;
    }
    const started = performance.now();
    log(`custom-json: making a venv at ${dir}`);
    await run(["python3", "-m", "venv", "--clear", dir], log);
    await run([`${dir}/bin/python`, "-m", "pip", "install", "--no-input", "-r", REQUIREMENTS], log);
    await Deno.writeTextFile(`${dir}/${MARKER}`, `installed ${new Date().toISOString()}\n`);
    log(`custom-json: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    // unlocking a file about to be closed: closing it releases the lock all the same
    await lock.unlock().catch(() => {});
    lock.close();
  }
}
