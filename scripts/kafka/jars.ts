/**
 * The broker's jars: the runtime dependencies of a pom, copied by Maven into a cache outside the
 * repo (`${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry/<name>/libs`)
 */

import { join } from "node:path";
import { logToStderr, run, seconds } from "./_util.ts";
import { POM_FILE } from "./paths.ts";
import type { Env } from "./settings.ts";
import { removeIfPresent } from "../files.ts";

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

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
