/**
 * `localhost/deno-base:2.9.6`, standing in for denoland/deno:2.9.6 where no image registry can be
 * reached: the Debian image plus the Deno binary of the npm package `deno` (what `npx deno@2.9.6`
 * runs) at /bin/deno, and denoland/deno's layout: user and group `deno` 1993, DENO_DIR=/deno-dir/
 * owned by them, DENO_INSTALL_ROOT=/usr/local.
 */

import { buildah, commitFrom, runLogged, storedImage } from "./buildah.ts";
import type { Built } from "./debian.ts";
import { hashInputs, sha256 } from "./inputs.ts";
import { DENO_VERSION } from "./settings.ts";

/** The real file of the npm package's Deno binary, checked to be `DENO_VERSION` */
export async function denoBinary(): Promise<string> {
  const path = (await runLogged("npx", [
    "-y",
    `deno@${DENO_VERSION}`,
    "eval",
    "console.log(Deno.execPath())",
  ], "deno-base")).trim();
  const version = await runLogged(path, ["--version"], "deno-base");
  if (!version.startsWith(`deno ${DENO_VERSION} `)) {
    throw new Error(`Deno binary "${path}" is not ${DENO_VERSION}: "${version.split("\n")[0]}"`);
  }
  return path;
}

const SETUP = [
  "set -eu",
  "groupadd --gid 1993 deno",
  "useradd --uid 1993 --gid deno --shell /bin/bash --create-home deno",
  "mkdir /deno-dir",
  "chown deno:deno /deno-dir",
].join("\n");

const CONFIG = [
  "--env",
  "DENO_DIR=/deno-dir/",
  "--env",
  "DENO_INSTALL_ROOT=/usr/local",
  "--env",
  `DENO_VERSION=${DENO_VERSION}`,
  "--entrypoint",
  '["deno"]',
  "--cmd",
  '["--version"]',
] as const;

/** Builds the Deno base image unless one made from the same inputs is stored */
export async function ensureDenoBase(ref: string, debianId: string): Promise<Built> {
  const binary = await denoBinary();
  const inputs = await hashInputs({
    base: debianId,
    deno: await sha256(await Deno.readFile(binary)),
    setup: SETUP,
    config: CONFIG.join(" "),
  });
  const stored = await storedImage(ref);
  if (stored?.inputs === inputs) return { id: stored.id, cached: true };
  const id = await commitFrom(debianId, ref, inputs, "deno-base", async (container) => {
    await buildah(["copy", "--chmod", "0755", container, binary, "/bin/deno"], "deno-base");
    await buildah(
      ["run", "--isolation", "chroot", container, "--", "sh", "-c", SETUP],
      "deno-base",
    );
    await buildah(["config", ...CONFIG, container], "deno-base");
  });
  return { id, cached: false };
}
