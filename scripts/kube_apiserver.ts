/**
 * A real Kubernetes API server for tests, without a cluster:
 * `deno run -A scripts/kube_apiserver.ts build|start|stop|status`.
 *
 * kube-apiserver, etcd and kubectl are built from the Go module proxy (the wrapper module in
 * scripts/kube/) into `${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry/kube/<key>/`, where
 * the key names the Kubernetes and etcd versions and a hash of the module's sources; a build is
 * skipped when that directory is complete. `startKubeApiServer` runs etcd and kube-apiserver on
 * free loopback ports with the flags controller-runtime's envtest uses, waits for `/readyz` and
 * writes a kubeconfig with an admin token (group `system:masters`) and the server's own CA. There
 * is no kubelet, scheduler or controller manager: tests create objects and fake what those would
 * write (a pod's `status`, say) through the API.
 *
 * `start` (the CLI) keeps its processes running in `.kube-test/` until `stop`; the servers a test
 * starts live in a temporary directory and are killed by a watchdog if the test process dies
 * without calling `stop()`.
 *
 * This file is the command line; each job lives in scripts/kube_apiserver/: `build.ts` (the
 * binaries), `pki.ts` and `kubeconfig.ts` (credentials), `process.ts` (the processes),
 * `server.ts` (`startKubeApiServer`), `cli_state.ts` (the CLI's server in `.kube-test/`). The
 * binaries and the server, which tests and scripts/cluster.ts use, are re-exported here;
 * scripts/cluster/ imports the build's internals from their files.
 */

import { join } from "node:path";
import { log, seconds } from "./kube_apiserver/_util.ts";
import {
  BINARY_NAMES,
  ensureKubeBinaries,
  ETCD_VERSION,
  KUBERNETES_VERSION,
} from "./kube_apiserver/build.ts";
import { cliStart, cliStatus, cliStop } from "./kube_apiserver/cli_state.ts";
import { errorText } from "@mat/agents/support";

export {
  ensureKubeBinaries,
  ensureKubectl,
  ETCD_VERSION,
  type KubeBinaries,
  kubeBinariesAvailability,
  KUBERNETES_VERSION,
} from "./kube_apiserver/build.ts";
export {
  type KubeApiServer,
  type KubeApiServerOptions,
  startKubeApiServer,
} from "./kube_apiserver/server.ts";

const USAGE = `Usage: deno run -A scripts/kube_apiserver.ts <command>

  build    Build kube-apiserver ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION} and kubectl from the Go
           module proxy (skipped when cached) and print their paths
  start    Start etcd and kube-apiserver on free loopback ports, state in .kube-test/; prints
           the KUBECONFIG to export
  stop     Stop them and remove .kube-test/
  status   Say whether they run

Environment:
  XDG_CACHE_HOME  binaries are cached in \${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry/kube
  GO              the go binary to build with (default: go on PATH, then /usr/local/go/bin/go)
  KUBECTL         a kubectl to use instead of the built one`;

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (rest.length > 0 || command === undefined) {
    console.error(`error: expected one command, got ${JSON.stringify(args)}\n\n${USAGE}`);
    return 2;
  }
  switch (command) {
    case "build": {
      const began = performance.now();
      const binaries = await ensureKubeBinaries();
      log(`binaries ready in ${seconds(performance.now() - began)}`);
      for (const name of BINARY_NAMES) console.log(join(binaries.dir, name));
      return 0;
    }
    case "start":
      await cliStart();
      return 0;
    case "stop":
      await cliStop();
      log("stopped");
      return 0;
    case "status": {
      const state = await cliStatus();
      console.log(
        state ? `running at ${state.url}, KUBECONFIG=${state.kubeconfigPath}` : "stopped",
      );
      return state ? 0 : 3;
    }
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
