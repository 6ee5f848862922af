/**
 * The Debian layers under every image here: `localhost/mat-debian:bookworm`, a minbase root file
 * system made by debootstrap (cached as a tar), and `localhost/mat-jre:17`, that plus Debian's
 * openjdk-17-jre-headless for the Kafka image.
 */

import { join } from "node:path";
import { buildah, commitFrom, log, runLogged, storedImage } from "./buildah.ts";
import { hashInputs } from "./inputs.ts";
import { cache, DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR, DEBIAN_SUITE } from "./settings.ts";

/** What a build step made: the image id, and whether it was already there */
export interface Built {
  id: string;
  cached: boolean;
}

const SOURCES_LIST = [
  `deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE} main`,
  `deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE}-updates main`,
  `deb ${DEBIAN_SECURITY_MIRROR} ${DEBIAN_SUITE}-security main`,
  "",
].join("\n");

const DEBOOTSTRAP_ARGS = [
  "--variant=minbase",
  "--include=ca-certificates",
  DEBIAN_SUITE,
] as const;

/** Makes the debootstrapped root file system's tar unless it is cached */
async function ensureRootfsTar(): Promise<void> {
  if (await Deno.stat(cache.rootfsTar).then(() => true, () => false)) return;
  const dir = `${cache.rootfsTar}.d`;
  // the directory may not exist: nothing to remove
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  log(`debootstrap ${DEBOOTSTRAP_ARGS.join(" ")} (about a minute)`);
  await runLogged("debootstrap", [...DEBOOTSTRAP_ARGS, dir, DEBIAN_MIRROR], "debian");
  await Deno.writeTextFile(join(dir, "etc", "apt", "sources.list"), SOURCES_LIST);
  // What an image does not need: downloaded packages and package lists.
  await runLogged("sh", [
    "-c",
    'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/dev/*',
    "sh",
    dir,
  ], "debian");
  const partial = `${cache.rootfsTar}.partial`;
  await runLogged("tar", ["--numeric-owner", "-C", dir, "-cf", partial, "."], "debian");
  await Deno.rename(partial, cache.rootfsTar);
  await Deno.remove(dir, { recursive: true });
}

/** `localhost/mat-debian:bookworm` from the cached root file system */
export async function ensureDebian(ref: string): Promise<Built> {
  const inputs = await hashInputs({
    debootstrap: [...DEBOOTSTRAP_ARGS, DEBIAN_MIRROR].join(" "),
    sources: SOURCES_LIST,
  });
  const stored = await storedImage(ref);
  if (stored?.inputs === inputs) return { id: stored.id, cached: true };
  await Deno.mkdir(cache.root, { recursive: true });
  await ensureRootfsTar();
  const id = await commitFrom("scratch", ref, inputs, "debian", async (container) => {
    await buildah(["add", container, cache.rootfsTar, "/"], "debian");
    await buildah([
      "config",
      "--env",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "--cmd",
      '["/bin/bash"]',
      container,
    ], "debian");
  });
  return { id, cached: false };
}

const JRE_PACKAGES = ["openjdk-17-jre-headless"] as const;

/** `localhost/mat-jre:17`: the Debian image plus Debian's JRE 17, installed with apt */
export async function ensureJre(ref: string, debianId: string): Promise<Built> {
  const script = [
    "set -eu",
    "export DEBIAN_FRONTEND=noninteractive",
    "apt-get update -qq",
    `apt-get install -y -qq --no-install-recommends ${JRE_PACKAGES.join(" ")}`,
    "apt-get clean",
    "rm -rf /var/lib/apt/lists/*",
  ].join("\n");
  const inputs = await hashInputs({ base: debianId, script });
  const stored = await storedImage(ref);
  if (stored?.inputs === inputs) return { id: stored.id, cached: true };
  const id = await commitFrom(debianId, ref, inputs, "jre", async (container) => {
    await buildah(
      ["run", "--isolation", "chroot", "--network", "host", container, "--", "sh", "-c", script],
      "jre",
    );
  });
  return { id, cached: false };
}
