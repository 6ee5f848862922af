/**
 * What `deno task images` makes and where it keeps it: the image names the manifests use, the
 * Debian release and mirror, and the cache outside the repo (buildah's storage, the debootstrapped
 * root file system, build logs, image archives).
 */

import { join } from "node:path";
import { REPO_ROOT } from "../cluster/paths.ts";

export { REPO_ROOT };

/** The Deno release the base image carries (the Dockerfile's default base is denoland/deno:this) */
export const DENO_VERSION = "2.9.6";
export const DEBIAN_SUITE = "bookworm";
export const DEBIAN_MIRROR = "http://deb.debian.org/debian";
export const DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security";

/** Image label holding the hash of everything an image was made from */
export const INPUTS_LABEL = "dev.multi-agent-telemetry.inputs";

/** The images, in build order; `store` is the name in buildah's storage, `ref` the one pods use */
export const IMAGES = {
  debian: { store: `localhost/mat-debian:${DEBIAN_SUITE}`, ref: undefined },
  jre: { store: "localhost/mat-jre:17", ref: undefined },
  "deno-base": { store: `localhost/deno-base:${DENO_VERSION}`, ref: undefined },
  app: {
    store: "localhost/multi-agent-telemetry:dev",
    ref: "docker.io/library/multi-agent-telemetry:dev",
  },
  kafka: { store: "localhost/apache/kafka:4.1.1", ref: "docker.io/apache/kafka:4.1.1" },
} as const;
export type ImageName = keyof typeof IMAGES;
export const IMAGE_NAMES: readonly ImageName[] = Object.keys(IMAGES) as ImageName[];

function cacheRoot(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const base = xdg?.startsWith("/") ? xdg : join(Deno.env.get("HOME") ?? "/root", ".cache");
  return join(base, "multi-agent-telemetry", "images");
}

const CACHE = cacheRoot();

/** Paths under `~/.cache/multi-agent-telemetry/images` */
export const cache = {
  root: CACHE,
  /** buildah's image and layer storage (its `--root`) */
  storage: join(CACHE, "storage"),
  /** buildah's run-time state (its `--runroot`) */
  runroot: "/run/multi-agent-telemetry-buildah",
  /** The debootstrapped root file system as a tar, the Debian image's one layer */
  rootfsTar: join(CACHE, `debian-${DEBIAN_SUITE}-minbase.tar`),
  /** Each image's build output, `<name>.log` */
  logs: join(CACHE, "logs"),
  /** docker-archive tars of the images, `<name>-<id>.tar`, for `ctr images import` */
  archives: join(CACHE, "archives"),
} as const;

/** Files copied into the Kafka image: bin/, config/, docker/run */
export const KAFKA_FILES = join(REPO_ROOT, "scripts", "images", "kafka");
export const KAFKA_POM = join(KAFKA_FILES, "pom.xml");
