/**
 * Container images without a registry: `deno task images build|import`.
 *
 * `build` makes, with buildah from Debian (installed with apt when missing), the images the
 * manifests name: `multi-agent-telemetry:dev` from the repo's Dockerfile on a Deno base made here
 * (Debian + the npm package's Deno binary) and a stand-in for `apache/kafka:4.1.1` (Debian's JRE
 * and the Kafka jars from Maven Central). Each image carries a hash of its inputs and is skipped
 * when that matches. `import` copies them into the development cluster's containerd
 * (`deno task cluster up`); `build` does that too when the cluster runs. The pause image comes
 * with `cluster up`. Caches live in ~/.cache/multi-agent-telemetry/images.
 */

import { ensureBuildTools, imageSize, log, storedImage } from "./images/buildah.ts";
import { ensureApp } from "./images/app_image.ts";
import { clusterContainerdRuns, importImage } from "./images/containerd_import.ts";
import { type Built, ensureDebian, ensureJre } from "./images/debian.ts";
import { ensureDenoBase } from "./images/deno_base.ts";
import { ensureKafka } from "./images/kafka_image.ts";
import { cache, DENO_VERSION, type ImageName, IMAGES } from "./images/settings.ts";
import { errorText } from "@mat/agents/support";

const USAGE = `Usage: deno task images <command>

Builds the images k8s/deployment.yaml names, without an image registry, and imports them into the
development cluster's containerd (deno task cluster up). Root only.

Commands:
  build   Build what is missing or out of date, each skipped when an image made from the same
          inputs is stored: localhost/mat-debian:bookworm (debootstrap --variant=minbase),
          localhost/deno-base:${DENO_VERSION} (Debian + Deno from npm, user deno 1993),
          multi-agent-telemetry:dev (the Dockerfile, BASE_IMAGE=localhost/deno-base:${DENO_VERSION}),
          localhost/mat-jre:17 and apache/kafka:4.1.1 (a stand-in: Debian's JRE 17, Kafka's jars
          from Maven Central). Then, when the cluster runs, what "import" does.
  import  Copy multi-agent-telemetry:dev and apache/kafka:4.1.1 into the cluster's containerd
          (namespace k8s.io) unless it holds them already

Exit codes: 0 success, 1 failure, 2 usage error.
Caches (buildah storage, the Debian root file system, logs): ${cache.root}

Example:
  deno task cluster up && deno task images build &&
    KUBECONFIG=.cluster/kubeconfig OLLAMA=0 bash scripts/setup.sh`;

/** The images pods use, which `import` copies into containerd */
const IMPORTED = ["app", "kafka"] as const;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Runs one build step and says how long it took and whether it was cached */
async function step(name: ImageName, build: () => Promise<Built>): Promise<Built> {
  const began = performance.now();
  log(`${IMAGES[name].store}: building unless up to date`);
  const built = await build();
  const took = seconds(performance.now() - began);
  const size = await imageSize(IMAGES[name].store);
  log(
    `${IMAGES[name].store}: ${
      built.cached ? `up to date (checked in ${took})` : `built in ${took}`
    }` +
      `, ${size}`,
  );
  return built;
}

async function build(): Promise<void> {
  const began = performance.now();
  await ensureBuildTools();
  const debian = await step("debian", () => ensureDebian(IMAGES.debian.store));
  const base = await step("deno-base", () => ensureDenoBase(IMAGES["deno-base"].store, debian.id));
  await step("app", () => ensureApp(IMAGES.app.store, IMAGES["deno-base"].store, base.id));
  const jre = await step("jre", () => ensureJre(IMAGES.jre.store, debian.id));
  await step("kafka", () => ensureKafka(IMAGES.kafka.store, jre.id));
  log(`all images ready in ${seconds(performance.now() - began)}`);
  if (await clusterContainerdRuns()) {
    await importAll();
  } else {
    log(`the cluster's containerd does not run: "deno task images import" after "cluster up"`);
  }
}

async function importAll(): Promise<void> {
  if (!(await clusterContainerdRuns())) {
    throw new Error(`The cluster's containerd does not run: "deno task cluster up" first`);
  }
  for (const name of IMPORTED) {
    const { store, ref } = IMAGES[name];
    const stored = await storedImage(store);
    if (stored?.inputs === undefined) {
      throw new Error(`No image "${store}" built here: "deno task images build" first`);
    }
    const began = performance.now();
    const imported = await importImage({ name, id: stored.id, inputs: stored.inputs, ref });
    const took = seconds(performance.now() - began);
    log(`${ref}: ${imported ? `imported in ${took}` : "already in containerd"}`);
  }
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (command === undefined || rest.length > 0) {
    console.error(`error: expected one command, got ${JSON.stringify(args)}\n\n${USAGE}`);
    return 2;
  }
  if (command !== "build" && command !== "import") {
    console.error(`error: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  if (Deno.uid() !== 0) throw new Error(`"images ${command}" needs root (uid ${Deno.uid()})`);
  if (command === "build") await build();
  else await importAll();
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`error: ${errorText(error)}`);
    Deno.exit(1);
  }
}
