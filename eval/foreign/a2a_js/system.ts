/**
 * `a2a-js`: an agent system written the way a JavaScript team not using our runtime writes one,
 * on Node.js with the real npm libraries (`node/package.json` pins them): @a2a-js/sdk 0.3.14 (A2A
 * v0.3 JSON-RPC: its `AgentExecutor`, `DefaultRequestHandler`, `JsonRpcTransportHandler` and
 * protocol types), `cloudevents` 10 (structured mode of its Kafka binding) and kafkajs 2.2.4.
 *
 * `router` asks `coder` for code, then `reviewer` for a review, and answers the caller; each is
 * one `node agent.mjs <agent>` process reading `agents.<run>.<agent>` in group `js-<run>-<agent>`.
 * `node/client.mjs` is its client (the caller, inbox `agents.<run>.caller`).
 *
 * Install: `npm ci` of the committed lock into `~/.cache/multi-agent-telemetry/
 * node-a2a-js-<hash of the lock>` (XDG_CACHE_HOME is honoured), then the `.mjs` sources are
 * copied to `app-<hash of the sources>/` inside it, so Node resolves the packages from the
 * parent's node_modules and the repository holds none. Both steps build in a temporary directory
 * and rename it into place, so two installs at once cannot leave a half-made one.
 */

import { createHash } from "node:crypto";
import type { ForeignSystem } from "../foreign_system.ts";
import { parseAnswerLine } from "../answer_line.ts";
import { AGENTS, groupOf, topicOf, USER_INBOX } from "./node/names.mjs";

const NODE_DIR = new URL("./node/", import.meta.url);
const DONE_MARKER = ".installed";

function cacheRoot(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const base = xdg !== undefined && xdg !== "" ? xdg : `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/multi-agent-telemetry`;
}

function shortHash(chunks: (string | Uint8Array)[]): string {
  const hash = createHash("sha256");
  for (const c of chunks) hash.update(c);
  return hash.digest("hex").slice(0, 12);
}

/** The JavaScript sources of the system (`.mjs`, `.cjs`), by name */
function sources(): string[] {
  return [...Deno.readDirSync(NODE_DIR)]
    .filter((e) => e.isFile && (e.name.endsWith(".mjs") || e.name.endsWith(".cjs")))
    .map((e) => e.name)
    .sort();
}

/** Where the packages and the sources of this checkout go */
function layout(): { modules: string; app: string } {
  const lock = Deno.readFileSync(new URL("package-lock.json", NODE_DIR));
  const modules = `${cacheRoot()}/node-a2a-js-${shortHash([lock])}`;
  const code = sources().flatMap((name) => [name, Deno.readFileSync(new URL(name, NODE_DIR))]);
  return { modules, app: `${modules}/app-${shortHash(code)}` };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Builds `target` in a temporary directory beside it, then renames it into place */
async function buildAtomically(
  target: string,
  build: (dir: string) => Promise<void>,
): Promise<void> {
  if (exists(`${target}/${DONE_MARKER}`)) return;
  const tmp = `${target}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    await build(tmp);
    await Deno.writeTextFile(`${tmp}/${DONE_MARKER}`, new Date().toISOString() + "\n");
    try {
      await Deno.rename(tmp, target);
    } catch (err) {
      // another install finished first (or left a broken one, which is replaced)
      if (exists(`${target}/${DONE_MARKER}`)) return;
      if (!exists(target)) throw err;
      await Deno.remove(target, { recursive: true });
      await Deno.rename(tmp, target);
    }
  } finally {
    if (exists(tmp)) await Deno.remove(tmp, { recursive: true });
  }
}

async function npmCi(dir: string, log: (line: string) => void): Promise<void> {
  for (const file of ["package.json", "package-lock.json"]) {
    await Deno.copyFile(new URL(file, NODE_DIR), `${dir}/${file}`);
  }
  log(`a2a-js: npm ci in ${dir}`);
  const out = await new Deno.Command("npm", {
    args: ["ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  for (const line of text.split("\n")) if (line.trim() !== "") log(`a2a-js: npm: ${line}`);
  if (!out.success) throw new Error(`npm ci failed with exit code ${out.code} in "${dir}"`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export const a2aJs: ForeignSystem = {
  name: "a2a-js",
  agents: AGENTS,
  userInbox: USER_INBOX,
  topic: (agent, run) => topicOf(agent, run),
  group: (agent, run) => groupOf(agent, run),

  async install(log) {
    const { modules, app } = layout();
    if (exists(`${modules}/${DONE_MARKER}`)) log(`a2a-js: packages cached in ${modules}`);
    await buildAtomically(modules, (dir) => npmCi(dir, log));
    await buildAtomically(app, async (dir) => {
      for (const name of sources()) await Deno.copyFile(new URL(name, NODE_DIR), `${dir}/${name}`);
    });
    log(`a2a-js: agents in ${app}`);
  },

  command(agent) {
    if (!AGENTS.some((a) => a === agent)) {
      throw new RangeError(`Unknown a2a-js agent "${agent}": expected one of ${AGENTS.join(", ")}`);
    }
    return ["node", `${layout().app}/agent.mjs`, agent];
  },

  env: (run) => ({ A2A_RUN: run }),

  observerEnv: (run) => ({
    KAFKA_TOPIC_PATTERN: `^agents\\.${escapeRegExp(run)}\\.(?<agent>[a-z][a-z0-9_-]{0,62})$`,
    OBSERVER_USER_INBOX: USER_INBOX,
    OBSERVER_DIALECTS: "cloudevents,a2a",
  }),

  async ask(bootstrap, run, prompts, timeoutMs) {
    const { app } = layout();
    const client = `${app}/client.mjs`;
    if (!exists(client)) {
      throw new Error(`The a2a-js system is not installed ("${client}" is missing): run install()`);
    }
    const out = await new Deno.Command("node", {
      args: [client, "--timeout-ms", String(timeoutMs), "--", ...prompts],
      env: { KAFKA_BOOTSTRAP_SERVERS: bootstrap, ...a2aJs.env(run) },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      const stderr = new TextDecoder().decode(out.stderr).trim();
      throw new Error(`The a2a-js client exited with code ${out.code}: ${stderr}`);
    }
    const answers = stdout.split("\n").filter((l) => l.trim() !== "").map(parseAnswerLine);
    if (answers.length !== prompts.length) {
      throw new Error(
        `The a2a-js client printed ${answers.length} answers for ${prompts.length} prompts`,
      );
    }
    return answers;
  },
};
