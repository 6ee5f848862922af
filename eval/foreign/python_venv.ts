/**
 * The Python virtual environment a foreign system runs in, kept outside the repository in
 * `$XDG_CACHE_HOME` (else `$HOME/.cache`) as `multi-agent-telemetry/venv-<name>-<hash>`, `<hash>`
 * being the first 12 hex digits of the SHA-256 of its `requirements.txt`: a changed requirement
 * makes a new venv. `python3 -m venv`, then `pip install -r requirements.txt`; a marker file
 * written after a successful install makes the next install a no-op. An exclusive lock on
 * `<venv>.lock` keeps two installs (two test files, two evals) from building it at once.
 */

import { createHash } from "node:crypto";
import { textLines } from "@mat/agents/lines";

/** Written in the venv once pip has installed every requirement */
const MARKER = ".installed";

/** The Python that makes the venv (3.11 or newer): `python3` on PATH */
const SYSTEM_PYTHON = "python3";

type Env = { get(key: string): string | undefined };

/** An install step (venv, pip) that failed */
export class InstallError extends Error {
  override name = "InstallError";
  constructor(message: string, readonly command: string[], readonly code: number) {
    super(message);
  }
}

/** The cache folder: `$XDG_CACHE_HOME`, else `$HOME/.cache` */
export function cacheHome(env: Env = Deno.env): string {
  const xdg = env.get("XDG_CACHE_HOME")?.trim();
  if (xdg) return xdg;
  const home = env.get("HOME")?.trim();
  if (!home) throw new RangeError("Cannot find a cache folder: XDG_CACHE_HOME and HOME are unset");
  return `${home}/.cache`;
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
      if (tail.length > 20) tail.shift();
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

/** One system's venv: its name and its pinned requirements file */
export class PythonVenv {
  constructor(readonly name: string, readonly requirements: string) {}

  /** The venv's folder for the requirements as they are now */
  dir(env: Env = Deno.env): string {
    const hash = createHash("sha256").update(Deno.readFileSync(this.requirements)).digest("hex");
    return `${cacheHome(env)}/multi-agent-telemetry/venv-${this.name}-${hash.slice(0, 12)}`;
  }

  /** The venv's python */
  python(env: Env = Deno.env): string {
    return `${this.dir(env)}/bin/python`;
  }

  /**
   * Makes the venv and installs the requirements in it, unless a previous install finished; `log`
   * hears each line venv and pip print, and where the venv is
   */
  async install(log: (line: string) => void, env: Env = Deno.env): Promise<void> {
    const dir = this.dir(env);
    await Deno.mkdir(`${dir}/..`, { recursive: true });
    const lock = await Deno.open(`${dir}.lock`, { create: true, write: true });
    try {
      await lock.lock(true);
      if (await exists(`${dir}/${MARKER}`)) {
        log(`${this.name}: venv ready at ${dir}`);
        return;
      }
      const started = performance.now();
      log(`${this.name}: making a venv at ${dir}`);
      await run([SYSTEM_PYTHON, "-m", "venv", "--clear", dir], log);
      await run(
        [`${dir}/bin/python`, "-m", "pip", "install", "--no-input", "-r", this.requirements],
        log,
      );
      await Deno.writeTextFile(`${dir}/${MARKER}`, `installed ${new Date().toISOString()}\n`);
      log(`${this.name}: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      // the lock goes with the file, closed below
      await lock.unlock().catch(() => undefined);
      lock.close();
    }
  }
}
