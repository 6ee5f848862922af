/**
 * Copies images from buildah's storage into the development cluster's containerd (namespace
 * `k8s.io`, where the kubelet looks), under the names pods use (`multi-agent-telemetry:dev` is
 * `docker.io/library/multi-agent-telemetry:dev` to the kubelet), so `imagePullPolicy:
 * IfNotPresent` finds them and nothing is pulled. Each image goes through a docker-archive tar
 * kept in the cache per image id; an image containerd already holds with the same inputs label is
 * skipped.
 */

import { join } from "node:path";
import { ctr } from "../cluster/host.ts";
import { paths } from "../cluster/paths.ts";
import { running } from "../cluster/process.ts";
import { buildah, log } from "./buildah.ts";
import { cache, INPUTS_LABEL } from "./settings.ts";
import { errorText, isRecord } from "@mat/agents/support";

/** True when the cluster's containerd runs (`deno task cluster up`) */
export async function clusterContainerdRuns(): Promise<boolean> {
  return (await running("containerd")) !== undefined;
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

async function blobJson(digest: string): Promise<unknown> {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new SyntaxError(`Bad digest "${digest}"`);
  return JSON.parse(await ctr(["content", "get", digest]));
}

/** The inputs label of the image containerd holds as `ref`, or undefined without one */
async function importedInputs(ref: string): Promise<string | undefined> {
  const listing = await ctr(["images", "ls", `name==${ref}`]);
  const row = listing.split("\n").slice(1).find((line) => line.startsWith(`${ref} `));
  const manifestDigest = row?.split(/\s+/)[2];
  if (manifestDigest === undefined) return undefined;
  const configDigest = field(field(await blobJson(manifestDigest), "config"), "digest");
  if (typeof configDigest !== "string") return undefined;
  const config = await blobJson(configDigest);
  const label = field(field(field(config, "config"), "Labels"), INPUTS_LABEL);
  return typeof label === "string" ? label : undefined;
}

/** The docker-archive of image `id` named `ref`, made unless cached; older ones of `name` go */
async function archive(name: string, id: string, ref: string): Promise<string> {
  await Deno.mkdir(cache.archives, { recursive: true });
  const file = join(cache.archives, `${name}-${id.slice(0, 12)}.tar`);
  for await (const entry of Deno.readDir(cache.archives)) {
    if (entry.name.startsWith(`${name}-`) && join(cache.archives, entry.name) !== file) {
      await Deno.remove(join(cache.archives, entry.name));
    }
  }
  if (await Deno.stat(file).then(() => true, () => false)) return file;
  const partial = `${file}.partial`;
  // the partial file may not exist: nothing to remove
  await Deno.remove(partial).catch(() => {});
  await buildah(["push", "--quiet", id, `docker-archive:${partial}:${ref}`], "import");
  await Deno.rename(partial, file);
  return file;
}

/** What `importImage` imports: a stored image's id and inputs label, and the name pods use */
export interface ImportRequest {
  name: string;
  id: string;
  inputs: string;
  ref: string;
}

/**
 * Imports the image into the cluster's containerd unless it holds one with the same inputs label
 * under `ref`; returns whether it imported
 */
export async function importImage(image: ImportRequest): Promise<boolean> {
  if ((await importedInputs(image.ref)) === image.inputs) return false;
  const file = await archive(image.name, image.id, image.ref);
  try {
    await ctr(["images", "import", file]);
  } catch (err) {
    // Replacing an image races containerd's garbage collection of the one it replaces: the
    // unpack may find a shared parent layer's snapshot just collected ("parent snapshot ... does
    // not exist"). Everything imported so far stays; a second import unpacks what is missing.
    log(
      `import of ${image.ref} failed once, importing again: ${errorText(err)}`,
    );
    await ctr(["images", "import", file]);
  }
  const after = await importedInputs(image.ref);
  if (after !== image.inputs) {
    throw new Error(
      `Importing "${file}" into "${paths.containerdSocket}" did not make image "${image.ref}" ` +
        `with inputs "${image.inputs}" (found "${after}")`,
    );
  }
  return true;
}
