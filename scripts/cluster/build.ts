/**
 * The node and controller binaries of the development cluster, built from the Go module proxy with
 * the wrapper module of scripts/kube/ (one `main.go` per binary) the way
 * scripts/kube_apiserver/build.ts builds kube-apiserver, etcd and kubectl, and cached beside them in
 * `${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry/kube/cluster-<version>-<hash>/`.
 */

import { join } from "node:path";
import {
  BUILD_ARGS,
  cacheRoot,
  type Env,
  findGo,
  KUBERNETES_VERSION,
  MODULE_DIR,
} from "../kube_apiserver/build.ts";
import { log } from "./process.ts";
import { exists } from "../files.ts";

export const CLUSTER_BINARY_NAMES = [
  "kubelet",
  "kube-controller-manager",
  "kube-scheduler",
  "kube-proxy",
  "pause",
  "coredns",
] as const;
export type ClusterBinaryName = typeof CLUSTER_BINARY_NAMES[number];
export type ClusterBinaries = Record<ClusterBinaryName, string> & { dir: string };

const COMPLETE_MARKER = "complete.json";

/** CoreDNS has its own module: its dependencies would move the Kubernetes ones */
const COREDNS_MODULE_DIR = join(MODULE_DIR, "..", "coredns");

/** Where `go build` runs for a binary, and the package it builds */
function buildTarget(name: ClusterBinaryName): { cwd: string; pkg: string } {
  return name === "coredns"
    ? { cwd: COREDNS_MODULE_DIR, pkg: "." }
    : { cwd: MODULE_DIR, pkg: `./${name}` };
}

async function sourceKey(): Promise<string> {
  const parts: string[] = [JSON.stringify(BUILD_ARGS)];
  const kube = ["go.mod", "go.sum", ...CLUSTER_BINARY_NAMES.map((n) => `${n}/main.go`)]
    .filter((file) => file !== "coredns/main.go").map((file) => `kube/${file}`);
  for (const file of [...kube, "coredns/go.mod", "coredns/go.sum", "coredns/main.go"]) {
    parts.push(file, await Deno.readTextFile(join(MODULE_DIR, "..", file)));
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

function binariesIn(dir: string): ClusterBinaries {
  const entries = CLUSTER_BINARY_NAMES.map((name) => [name, join(dir, name)] as const);
  return { dir, ...Object.fromEntries(entries) } as ClusterBinaries;
}

/** The cache directory for the current sources */
export async function clusterBinaryDir(env: Env = Deno.env): Promise<string> {
  return join(cacheRoot(env), `cluster-k8s-${KUBERNETES_VERSION}-${await sourceKey()}`);
}

/** kubelet, kube-controller-manager, kube-scheduler, kube-proxy and pause, built when not cached */
export async function ensureClusterBinaries(env: Env = Deno.env): Promise<ClusterBinaries> {
  const dir = await clusterBinaryDir(env);
  if (await exists(join(dir, COMPLETE_MARKER))) return binariesIn(dir);
  const go = await findGo(env);
  if (go === undefined) {
    throw new Error(`Cannot build the cluster binaries into "${dir}": no Go toolchain found`);
  }
  const staging = `${dir}.partial-${Deno.pid}`;
  // a staging directory left by an earlier build may not exist: nothing to remove
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { recursive: true });
  const seconds: Record<string, number> = {};
  for (const name of CLUSTER_BINARY_NAMES) {
    log(`building ${name} ${KUBERNETES_VERSION} with ${go} (minutes when not in Go's build cache)`);
    const began = performance.now();
    const output = await new Deno.Command(go, {
      args: [...BUILD_ARGS, "-o", join(staging, name), buildTarget(name).pkg],
      cwd: buildTarget(name).cwd,
      env: { GOFLAGS: "-mod=mod -buildvcs=false", CGO_ENABLED: "0" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      // the build's error is thrown below; a staging directory left behind goes next build
      await Deno.remove(staging, { recursive: true }).catch(() => {});
      const text = new TextDecoder().decode(output.stderr).split("\n").slice(-40).join("\n");
      throw new Error(`Go build of "${name}" failed (exit code ${output.code}):\n${text}`);
    }
    seconds[name] = Math.round((performance.now() - began) / 1000);
    log(`built ${name} in ${seconds[name]}s`);
  }
  await Deno.writeTextFile(
    join(staging, COMPLETE_MARKER),
    JSON.stringify({ kubernetes: KUBERNETES_VERSION, builtAt: new Date(), seconds }, null, 2) +
      "\n",
  );
  try {
    await Deno.rename(staging, dir);
  } catch (error) {
    // a staging directory that will not go is removed by the next build
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    if (!(await exists(join(dir, COMPLETE_MARKER)))) throw error;
  }
  return binariesIn(dir);
}
