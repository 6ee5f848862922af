/**
 * A single-node Kubernetes cluster from real parts, for development and tests on this machine:
 * `deno task cluster up|down|status`.
 *
 * etcd, kube-apiserver and kubectl come from scripts/kube_apiserver.ts; kubelet,
 * kube-controller-manager, kube-scheduler, kube-proxy, CoreDNS and a pause binary are built the
 * same way (scripts/cluster/build.ts); containerd, runc, the CNI plugins and a static busybox come
 * from Debian, installed with apt when missing (scripts/cluster/host.ts). All state lives in `.cluster/`; `down` stops
 * every process, unmounts what the cluster mounted and removes `.cluster/`. scripts/setup.sh
 * never creates a cluster: point it here with `KUBECONFIG=.cluster/kubeconfig`.
 */

import { ensureKubeBinaries, ETCD_VERSION, KUBERNETES_VERSION } from "./kube_apiserver.ts";
import { ensureClusterBinaries } from "./cluster/build.ts";
import { apiClient, ensureControlPlane } from "./cluster/control_plane.ts";
import {
  ensureBridge,
  ensureContainerd,
  ensureHostPackages,
  ensureImages,
} from "./cluster/host.ts";
import { ensureCoreDns, ensureKubeProxy } from "./cluster/services.ts";
import { ensureKubelet, readyStatus } from "./cluster/node.ts";
import { API_SERVER_URL, NODE_NAME, paths } from "./cluster/paths.ts";
import { COMPONENTS, log, running } from "./cluster/process.ts";
import { ensureStorage } from "./cluster/storage.ts";
import { clusterMounts, down } from "./cluster/teardown.ts";
import { errorText } from "@mat/agents/support";

const USAGE = `Usage: deno task cluster <command>

A single-node Kubernetes ${KUBERNETES_VERSION} cluster on this machine, for development and tests
only: every component and the kubeconfig use one system:masters token.

Commands:
  up      Build what is missing (kubelet, kube-controller-manager, kube-scheduler, kube-proxy,
          CoreDNS, pause; etcd ${ETCD_VERSION}, kube-apiserver, kubectl), install containerd, runc and
          the CNI plugins with apt when missing, start whatever is not running and wait until
          node "${NODE_NAME}" is Ready. On a cluster that is up it says so and exits 0.
  down    Delete the pods, stop every component, unmount and remove .cluster/
  status  Each component's pid, whether the node is Ready, the kubeconfig

Exit codes: 0 success (status: all components run and the node is Ready), 1 failure,
2 usage error, 3 status found the cluster down or partly up.

Example:
  deno task cluster up && KUBECONFIG=.cluster/kubeconfig kubectl get nodes`;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

async function up(): Promise<void> {
  const began = performance.now();
  const states = await Promise.all(COMPONENTS.map((name) => running(name)));
  if (states.every((state) => state !== undefined)) {
    const client = await apiClient();
    // an API server that cannot be asked reads as not ready
    const ready = client ? await readyStatus(client).catch(() => undefined) : undefined;
    client?.close();
    if (ready === "True") {
      // Volumes released by deleted claims are emptied and offered again, as on a full `up`
      await ensureStorage((await ensureKubeBinaries({ log })).kubectl);
      log(`already up: node "${NODE_NAME}" Ready at ${API_SERVER_URL}`);
      console.log(`export KUBECONFIG=${paths.kubeconfig}`);
      return;
    }
  }
  await ensureHostPackages();
  const kube = await ensureKubeBinaries({ log });
  const cluster = await ensureClusterBinaries();
  log(`binaries ready in ${seconds(performance.now() - began)}`);
  await ensureBridge();
  await ensureContainerd();
  await ensureImages(cluster.pause);
  await ensureControlPlane({
    etcd: kube.etcd,
    kubeApiServer: kube.kubeApiServer,
    kubeControllerManager: cluster["kube-controller-manager"],
    kubeScheduler: cluster["kube-scheduler"],
  });
  await ensureStorage(kube.kubectl);
  await ensureKubelet(cluster.kubelet);
  await ensureKubeProxy(cluster["kube-proxy"]);
  await ensureCoreDns(cluster.coredns);
  log(`up in ${seconds(performance.now() - began)}; logs in ${paths.logs}`);
  console.log(`export KUBECONFIG=${paths.kubeconfig}`);
  console.log(`alias kubectl=${kube.kubectl}`);
}

async function status(): Promise<boolean> {
  let all = true;
  for (const name of COMPONENTS) {
    const process = await running(name);
    all &&= process !== undefined;
    console.log(`${name.padEnd(24)} ${process ? `running (pid ${process.pid})` : "stopped"}`);
  }
  const client = await apiClient();
  let ready: string | undefined;
  if (client && (await running("kube-apiserver"))) {
    // an API server that cannot be asked reads as not ready; the loop asks again
    ready = await readyStatus(client).catch(() => undefined);
  }
  client?.close();
  console.log(
    `${`node ${NODE_NAME}`.padEnd(24)} ${ready === undefined ? "unknown" : `Ready=${ready}`}`,
  );
  const mounts = await clusterMounts();
  if (mounts.length > 0) console.log(`${"mounts".padEnd(24)} ${mounts.length}`);
  const kubeconfig = await Deno.stat(paths.kubeconfig).then(() => true, () => false);
  console.log(`${"kubeconfig".padEnd(24)} ${kubeconfig ? paths.kubeconfig : "none"}`);
  return all && ready === "True";
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
  switch (command) {
    case "up":
      if (Deno.uid() !== 0) throw new Error(`"cluster up" needs root (uid ${Deno.uid()})`);
      try {
        await up();
      } catch (error) {
        throw new Error(
          `${errorText(error)}\nWhat started still runs: "deno task cluster up" again starts ` +
            `the rest, "deno task cluster down" stops it all`,
          { cause: error },
        );
      }
      return 0;
    case "down": {
      const began = performance.now();
      await down(async () => (await ensureKubeBinaries({ log })).kubectl);
      log(`down in ${seconds(performance.now() - began)}: no process, mount or .cluster/ left`);
      return 0;
    }
    case "status":
      return (await status()) ? 0 : 3;
    default:
      console.error(`error: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`error: ${errorText(error)}`);
    Deno.exit(1);
  }
}
