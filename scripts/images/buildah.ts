/**
 * buildah from Debian (installed with apt when missing), always with this project's storage under
 * `~/.cache/multi-agent-telemetry/images` and chroot isolation, which works as root here without
 * a container runtime of its own. Each step's output goes to `<cache>/logs/<image>.log`; a failed
 * step throws with the end of that log.
 */

import { join } from "node:path";
import { cache, INPUTS_LABEL } from "./settings.ts";
import { errorText, isRecord } from "@mat/agents/support";
import { exists } from "../files.ts";

/** Debian packages the builds need and a file each installs, checked before calling apt */
const PACKAGES: readonly { name: string; file: string }[] = [
  { name: "buildah", file: "/usr/bin/buildah" },
  { name: "debootstrap", file: "/usr/sbin/debootstrap" },
];

export function log(line: string): void {
  console.error(`images: ${line}`);
}

/** Runs a command, its output appended to `<cache>/logs/<logName>.log`; returns its stdout */
export async function runLogged(
  command: string,
  args: readonly string[],
  logName: string,
  options: { cwd?: string } = {},
): Promise<string> {
  await Deno.mkdir(cache.logs, { recursive: true });
  const logFile = join(cache.logs, `${logName}.log`);
  const line = `$ ${[command, ...args].join(" ")}\n`;
  await Deno.writeTextFile(logFile, line, { append: true });
  const output = await new Deno.Command(command, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout);
  const stderr = decoder.decode(output.stderr);
  await Deno.writeTextFile(logFile, stdout + stderr, { append: true });
  if (!output.success) {
    const tail = (stdout + stderr).trimEnd().split("\n").slice(-25).join("\n");
    throw new Error(
      `"${[command, ...args].join(" ").slice(0, 300)}" failed (exit code ${output.code}); ` +
        `the end of "${logFile}":\n${tail}`,
    );
  }
  return stdout;
}

/** Installs buildah and debootstrap with apt-get when missing */
export async function ensureBuildTools(): Promise<void> {
  const missing: string[] = [];
  for (const pkg of PACKAGES) if (!(await exists(pkg.file))) missing.push(pkg.name);
  if (missing.length === 0) return;
  log(`installing ${missing.join(", ")} with apt-get`);
  await runLogged("apt-get", ["update"], "apt");
  await runLogged("apt-get", ["install", "-y", "--no-install-recommends", ...missing], "apt");
}

/** `buildah` with the project's storage; returns its stdout */
export function buildah(args: readonly string[], logName: string): Promise<string> {
  return runLogged("buildah", [
    "--root",
    cache.storage,
    "--runroot",
    cache.runroot,
    "--storage-driver",
    "overlay",
    ...args,
  ], logName);
}

/** What a stored image is: its id, the hash of its inputs (label) and its size */
export interface StoredImage {
  id: string;
  inputs: string | undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

/** Narrows `buildah inspect --type image` output to the image's id and inputs label */
export function parseInspect(value: unknown, ref: string): StoredImage {
  const top = record(value);
  const id = top?.FromImageID;
  if (typeof id !== "string" || !/^[0-9a-f]{64}$/.test(id)) {
    throw new SyntaxError(`"buildah inspect ${ref}" holds no FromImageID of 64 hex digits`);
  }
  const labels = record(record(record(top?.OCIv1)?.config)?.Labels);
  const inputs = labels?.[INPUTS_LABEL];
  return { id, inputs: typeof inputs === "string" ? inputs : undefined };
}

/** The image stored as `ref` (e.g. `localhost/mat-jre:17`), or undefined when there is none */
export async function storedImage(ref: string): Promise<StoredImage | undefined> {
  const names = await buildah(["images", "--noheading", "--format", "{{.Name}}:{{.Tag}}"], "store");
  if (!names.split("\n").includes(ref)) return undefined;
  const text = await buildah(["inspect", "--type", "image", ref], "store");
  return parseInspect(JSON.parse(text), ref);
}

/** The stored image's size as buildah shows it, e.g. "214 MB" */
export async function imageSize(ref: string): Promise<string> {
  const lines = await buildah(
    ["images", "--noheading", "--format", "{{.Name}}:{{.Tag}}|{{.Size}}"],
    "store",
  );
  for (const line of lines.split("\n")) {
    const [name, size] = line.split("|");
    if (name === ref && size !== undefined) return size.trim();
  }
  throw new Error(`No image "${ref}" in buildah's storage "${cache.storage}"`);
}

/**
 * A working container from `from` (an image or "scratch"), handed to `use`, committed as `ref`
 * with the inputs label, and removed whatever happens; returns the new image's id
 */
export async function commitFrom(
  from: string,
  ref: string,
  inputs: string,
  logName: string,
  use: (container: string) => Promise<void>,
): Promise<string> {
  const container = (await buildah(["from", "--pull=never", from], logName)).trim();
  try {
    await use(container);
    await buildah(["config", "--label", `${INPUTS_LABEL}=${inputs}`, container], logName);
    const id = await buildah(["commit", "--quiet", "--rm", container, ref], logName);
    return id.trim();
  } catch (error) {
    await buildah(["rm", container], logName).catch((rmError) =>
      log(`cannot remove the build container "${container}": ${errorText(rmError)}`)
    );
    throw error;
  }
}
