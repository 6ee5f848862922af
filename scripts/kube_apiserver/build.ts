/**
 * kube-apiserver, etcd and kubectl, built from the Go module proxy (the wrapper module in
 * scripts/kube/) into `${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry/kube/<key>/`, where
 * the key names the Kubernetes and etcd versions and a hash of the module's sources; a build is
 * skipped when that directory is complete. scripts/cluster/build.ts builds the other binaries the
 * same way.
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isExecutableFile, log, seconds } from "./_util.ts";
import { exists, removeIfPresent } from "../files.ts";

/** The Kubernetes release the wrapper module pins (`k8s.io/kubernetes` and its staging modules) */
export const KUBERNETES_VERSION = "v1.34.4";
/** The etcd release, the one Kubernetes v1.34.4 itself requires */
export const ETCD_VERSION = "v3.6.4";

/** Something to read environment variables from: `Deno.env`, or a stub in tests */
export interface Env {
  get(key: string): string | undefined;
}

/** The Go wrapper module with one `main.go` per binary */
export const MODULE_DIR: string = fileURLToPath(new URL("../kube", import.meta.url));

export const BINARY_NAMES = ["kube-apiserver", "etcd", "kubectl"] as const;
export type BinaryName = typeof BINARY_NAMES[number];
const COMPLETE_MARKER = "complete.json";

/** Paths of the three binaries, all from one cache directory */
export interface KubeBinaries {
  dir: string;
  kubeApiServer: string;
  etcd: string;
  kubectl: string;
}

/** `${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry/kube` */
export function cacheRoot(env: Env): string {
  const xdg = env.get("XDG_CACHE_HOME")?.trim();
  if (xdg) return join(xdg, "multi-agent-telemetry", "kube");
  const home = env.get("HOME")?.trim();
  if (!home) {
    throw new Error("Neither XDG_CACHE_HOME nor HOME is set: no place to cache the kube binaries");
  }
  return join(home, ".cache", "multi-agent-telemetry", "kube");
}

/** `-X` flags giving the binaries their real version instead of `v0.0.0-master` */
function versionLdflags(): string[] {
  const [major, minor] = KUBERNETES_VERSION.replace(/^v/, "").split(".");
  const flags: string[] = [];
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
    flags.push(
      `-X ${pkg}.gitVersion=${KUBERNETES_VERSION}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    );
  }
  return flags;
}

/** `go build` flags of every binary: trimmed paths, stripped, with the real version */
export const BUILD_ARGS: readonly string[] = [
  "build",
  "-trimpath",
  `-ldflags=-s -w ${versionLdflags().join(" ")}`,
];

/** A short hash of the wrapper module's sources and build flags: a new one means a new build */
async function sourceKey(): Promise<string> {
  const parts: string[] = [JSON.stringify(BUILD_ARGS)];
  for (const file of ["go.mod", "go.sum", ...BINARY_NAMES.map((name) => `${name}/main.go`)]) {
    parts.push(file, await Deno.readTextFile(join(MODULE_DIR, file)));
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** The cache directory for the current sources: `.../kube/k8s-v1.34.4-etcd-v3.6.4-<hash>` */
export async function binaryDir(env: Env = Deno.env): Promise<string> {
  return join(
    cacheRoot(env),
    `k8s-${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}-${await sourceKey()}`,
  );
}

function binariesIn(dir: string): KubeBinaries {
  return {
    dir,
    kubeApiServer: join(dir, "kube-apiserver"),
    etcd: join(dir, "etcd"),
    kubectl: join(dir, "kubectl"),
  };
}

/** The cached binaries, or undefined when they have not been built for the current sources */
export async function cachedKubeBinaries(env: Env = Deno.env): Promise<KubeBinaries | undefined> {
  const dir = await binaryDir(env);
  if (!(await exists(join(dir, COMPLETE_MARKER)))) return undefined;
  for (const name of BINARY_NAMES) {
    if (!(await isExecutableFile(join(dir, name)))) return undefined;
  }
  return binariesIn(dir);
}

/** The Go toolchain to build with: `$GO`, `go` on PATH, or /usr/local/go/bin/go */
export async function findGo(env: Env = Deno.env): Promise<string | undefined> {
  const explicit = env.get("GO")?.trim();
  if (explicit) {
    if (await isExecutableFile(explicit)) return explicit;
    throw new Error(`GO is set to "${explicit}", which is not an executable file`);
  }
  const candidates = (env.get("PATH") ?? "").split(":").filter((dir) => dir !== "")
    .map((dir) => join(dir, "go"));
  candidates.push("/usr/local/go/bin/go");
  for (const candidate of candidates) {
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Whether `startKubeApiServer` can run here: the binaries are cached or Go can build them.
 * `reason` says why not, for a test's skip message.
 */
export async function kubeBinariesAvailability(
  env: Env = Deno.env,
): Promise<{ available: true } | { available: false; reason: string }> {
  if (await cachedKubeBinaries(env)) return { available: true };
  if (await findGo(env)) return { available: true };
  return {
    available: false,
    reason: `kube-apiserver is not built in "${await binaryDir(
      env,
    )}" and no Go toolchain was found to build it (set GO or put "go" on PATH)`,
  };
}

/**
 * The kube-apiserver, etcd and kubectl binaries, built from the Go module proxy when the cache
 * has none for the current sources. The first build takes minutes; later calls return at once.
 */
export async function ensureKubeBinaries(
  options: { env?: Env; log?: (line: string) => void } = {},
): Promise<KubeBinaries> {
  const env = options.env ?? Deno.env;
  const say = options.log ?? log;
  const cached = await cachedKubeBinaries(env);
  if (cached) return cached;

  const dir = await binaryDir(env);
  const go = await findGo(env);
  if (go === undefined) {
    throw new Error(
      `Cannot build kube-apiserver into "${dir}": no Go toolchain found (set GO or put "go" on PATH)`,
    );
  }
  const staging = `${dir}.partial-${Deno.pid}`;
  await removeIfPresent(staging);
  await Deno.mkdir(staging, { recursive: true });
  say(
    `building kube-apiserver ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION} and kubectl with ${go} ` +
      `(the first build takes several minutes)`,
  );
  const began = performance.now();
  const buildEnv: Record<string, string> = {
    GOFLAGS: "-mod=mod -buildvcs=false",
    CGO_ENABLED: "0",
  };
  const output = await new Deno.Command(go, {
    args: [...BUILD_ARGS, "-o", `${staging}/`, ...BINARY_NAMES.map((name) => `./${name}`)],
    cwd: MODULE_DIR,
    env: buildEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const elapsedMs = performance.now() - began;
  if (!output.success) {
    await removeIfPresent(staging);
    const text = new TextDecoder().decode(output.stderr).split("\n").slice(-40).join("\n");
    throw new Error(`Go build of the kube binaries failed (exit code ${output.code}):\n${text}`);
  }
  const goVersion = new TextDecoder().decode(
    (await new Deno.Command(go, { args: ["version"], stdout: "piped", stderr: "null" }).output())
      .stdout,
  ).trim();
  await Deno.writeTextFile(
    join(staging, COMPLETE_MARKER),
    JSON.stringify(
      {
        kubernetes: KUBERNETES_VERSION,
        etcd: ETCD_VERSION,
        go: goVersion,
        builtAt: new Date().toISOString(),
        buildSeconds: Math.round(elapsedMs / 1000),
      },
      null,
      2,
    ) + "\n",
  );
  try {
    await Deno.rename(staging, dir);
  } catch (error) {
    // Another process finished the same build first: keep its binaries.
    await removeIfPresent(staging);
    if (!(await cachedKubeBinaries(env))) throw error;
  }
  say(`built the kube binaries in ${seconds(elapsedMs)} into ${dir}`);
  return binariesIn(dir);
}

/**
 * A kubectl for the test server: `$KUBECTL` when set, otherwise the one built beside
 * kube-apiserver (same version, so no version skew; Debian's kubernetes-client is v1.20).
 */
export async function ensureKubectl(
  options: { env?: Env; log?: (line: string) => void } = {},
): Promise<string> {
  const env = options.env ?? Deno.env;
  const explicit = env.get("KUBECTL")?.trim();
  if (explicit) {
    if (await isExecutableFile(explicit)) return explicit;
    throw new Error(`KUBECTL is set to "${explicit}", which is not an executable file`);
  }
  return (await ensureKubeBinaries(options)).kubectl;
}
