/**
 * `multi-agent-telemetry:dev` from the repository's Dockerfile, on the Deno base image made here
 * (`--build-arg BASE_IMAGE=localhost/deno-base:2.9.6`). The Dockerfile's `deno install` fetches
 * the npm packages, so the build uses the host's network; `--layers` keeps that layer while only
 * sources change.
 */

import { buildah, storedImage } from "./buildah.ts";
import type { Built } from "./debian.ts";
import { hashFiles, hashInputs } from "./inputs.ts";
import { INPUTS_LABEL, REPO_ROOT } from "./settings.ts";

/** What the Dockerfile copies, and itself */
const CONTEXT = [
  "Dockerfile",
  "deno.json",
  "deno.lock",
  "agents",
  "observer",
  "oracle",
  "scripts",
] as const;

/** The host's CA bundle, which holds the CA of a TLS-intercepting proxy where there is one */
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * The host's CA bundle mounted for the RUN steps and named by the Dockerfile's DENO_CERT, so that
 * `deno install` trusts what the host trusts; nothing when the host has no bundle there
 */
async function hostCaArgs(): Promise<string[]> {
  if (!(await Deno.stat(HOST_CA_BUNDLE).then(() => true, () => false))) return [];
  const inside = "/run/host-ca.crt";
  return ["--volume", `${HOST_CA_BUNDLE}:${inside}:ro`, "--build-arg", `DENO_CERT=${inside}`];
}

/** Builds the app image `ref` on the base `baseRef` unless it is up to date */
export async function ensureApp(ref: string, baseRef: string, baseId: string): Promise<Built> {
  const inputs = await hashInputs({ base: baseId, context: await hashFiles(REPO_ROOT, CONTEXT) });
  const stored = await storedImage(ref);
  if (stored?.inputs === inputs) return { id: stored.id, cached: true };
  await buildah([
    "build",
    "--isolation",
    "chroot",
    "--network",
    "host",
    "--pull=never",
    "--layers",
    "--force-rm",
    "--build-arg",
    `BASE_IMAGE=${baseRef}`,
    ...await hostCaArgs(),
    "--label",
    `${INPUTS_LABEL}=${inputs}`,
    "--file",
    `${REPO_ROOT}/Dockerfile`,
    "--tag",
    ref,
    REPO_ROOT,
  ], "app");
  const built = await storedImage(ref);
  if (built === undefined) throw new Error(`"buildah build" stored no image "${ref}"`);
  return { id: built.id, cached: false };
}
