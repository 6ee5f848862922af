/**
 * A real Kubernetes API server for tests, without a cluster: `startKubeApiServer` runs etcd and
 * kube-apiserver on free loopback ports with the flags controller-runtime's envtest uses, waits for
 * `/readyz` and writes a kubeconfig with an admin token (group `system:masters`) and the server's
 * own CA. There is no kubelet, scheduler or controller manager: tests create objects and fake what
 * those would write (a pod's `status`, say) through the API.
 */

import { join } from "node:path";
import { log, seconds } from "./_util.ts";
import { ensureKubeBinaries, type Env, KUBERNETES_VERSION } from "./build.ts";
import { ADMIN_USER, kubeconfig } from "./kubeconfig.ts";
import { randomToken, serviceAccountKeyPair } from "./pki.ts";
import { type Managed, spawnLogged, spawnWatchdog, terminate, waitFor } from "./process.ts";
import { removeIfPresent } from "../files.ts";
import { isRecord } from "@mat/agents/support";

const START_TIMEOUT_MS = 120_000;

/** Options of `startKubeApiServer` */
export interface KubeApiServerOptions {
  /** Directory for data, certs, logs and the kubeconfig; default a new temp dir, removed by stop */
  dir?: string;
  env?: Env;
  log?: (line: string) => void;
  /** How long to wait for etcd and `/readyz`; default 120 s */
  startTimeoutMs?: number;
  /** More kube-apiserver flags, appended after the defaults */
  extraApiServerArgs?: readonly string[];
  /**
   * Let the processes outlive this Deno process (the CLI's `start`). Otherwise a watchdog kills
   * them when this process dies without calling `stop()`.
   */
  detached?: boolean;
}

/** A running API server */
export interface KubeApiServer {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** kubeconfig with the admin token and the server's CA, current context `kube-test` */
  kubeconfigPath: string;
  /** Bearer token of an admin (group `system:masters`) */
  token: string;
  /** PEM of the self-signed certificates kube-apiserver made in `--cert-dir` */
  caCertPem: string;
  /** The kubectl built with the server */
  kubectl: string;
  dir: string;
  pids: { etcd: number; kubeApiServer: number };
  etcdUrl: string;
  /** Kills both processes (SIGTERM, then SIGKILL) and removes the temp dir it made */
  stop(): Promise<void>;
}

/** Three distinct loopback ports nothing listens on at the moment */
function freePorts(): { etcd: number; etcdPeer: number; apiServer: number } {
  const listen = () => Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const listeners = [listen(), listen(), listen()] as const;
  const [etcd, etcdPeer, apiServer] = listeners.map((listener) => listener.addr.port);
  for (const listener of listeners) listener.close();
  if (etcd === undefined || etcdPeer === undefined || apiServer === undefined) {
    throw new Error("Could not allocate three loopback ports");
  }
  return { etcd, etcdPeer, apiServer };
}

/**
 * Starts etcd and kube-apiserver (building them first if needed) and returns once `/readyz`
 * answers 200 with the admin token.
 */
export async function startKubeApiServer(
  options: KubeApiServerOptions = {},
): Promise<KubeApiServer> {
  const env = options.env ?? Deno.env;
  const say = options.log ?? log;
  const detached = options.detached ?? false;
  const binaries = await ensureKubeBinaries({ env, log: say });
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "kube-apiserver-" });
  const began = performance.now();
  const deadline = began + (options.startTimeoutMs ?? START_TIMEOUT_MS);

  const started: Managed[] = [];
  let watchdog: Deno.ChildProcess | undefined;
  let httpClient: Deno.HttpClient | undefined;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (watchdog !== undefined) {
      try {
        watchdog.kill("SIGKILL");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
      }
      await watchdog.status;
    }
    // kube-apiserver first: it would otherwise log etcd connection errors while shutting down.
    for (const process of [...started].reverse()) await terminate(process);
    httpClient?.close();
    if (ownDir) await removeIfPresent(dir);
  };

  try {
    const etcdDataDir = join(dir, "etcd-data");
    const certDir = join(dir, "certs");
    await Deno.mkdir(etcdDataDir, { recursive: true, mode: 0o700 });
    await Deno.mkdir(certDir, { recursive: true, mode: 0o700 });
    const pidFile = join(dir, "pids");
    await Deno.writeTextFile(pidFile, "");
    if (!detached) watchdog = spawnWatchdog(pidFile, ownDir ? dir : undefined);

    const ports = freePorts();
    const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
    const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
    const etcd = spawnLogged(
      "etcd",
      binaries.etcd,
      [
        "--name=kube-test",
        `--data-dir=${etcdDataDir}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=kube-test=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      join(dir, "etcd.log"),
      detached,
    );
    started.push(etcd);
    await Deno.writeTextFile(pidFile, `${etcd.child.pid}\n`, { append: true });
    await waitFor(`etcd at ${etcdUrl}/health`, deadline, [etcd], async () => {
      const response = await fetch(`${etcdUrl}/health`);
      const body: unknown = await response.json();
      return response.ok && isRecord(body) && body.health === "true";
    });

    const keys = await serviceAccountKeyPair();
    const saKeyFile = join(certDir, "sa.key");
    const saPubFile = join(certDir, "sa.pub");
    await Deno.writeTextFile(saKeyFile, keys.privateKey, { mode: 0o600 });
    await Deno.writeTextFile(saPubFile, keys.publicKey);
    const token = randomToken();
    const tokenFile = join(dir, "tokens.csv");
    await Deno.writeTextFile(tokenFile, `${token},${ADMIN_USER},${ADMIN_USER},system:masters\n`, {
      mode: 0o600,
    });

    const url = `https://127.0.0.1:${ports.apiServer}`;
    const apiServer = spawnLogged(
      "kube-apiserver",
      binaries.kubeApiServer,
      [
        // The defaults of controller-runtime's envtest (pkg/internal/testing/controlplane) ...
        "--advertise-address=127.0.0.1",
        "--bind-address=127.0.0.1",
        `--secure-port=${ports.apiServer}`,
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${certDir}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        "--allow-privileged=true",
        // No controller manager creates the default ServiceAccount, so pods could not be made.
        "--disable-admission-plugins=ServiceAccount",
        "--authorization-mode=RBAC",
        `--service-account-issuer=${url}/`,
        `--service-account-key-file=${saPubFile}`,
        `--service-account-signing-key-file=${saKeyFile}`,
        // ... plus token authentication for the kubeconfig, and no reconciling of the
        // `kubernetes` Service's endpoints, which may not be loopback addresses.
        `--token-auth-file=${tokenFile}`,
        "--endpoint-reconciler-type=none",
        ...(options.extraApiServerArgs ?? []),
      ],
      join(dir, "kube-apiserver.log"),
      detached,
    );
    started.push(apiServer);
    await Deno.writeTextFile(pidFile, `${apiServer.child.pid}\n`, { append: true });

    const certFile = join(certDir, "apiserver.crt");
    let caCertPem = "";
    await waitFor(
      `kube-apiserver's serving certificate "${certFile}"`,
      deadline,
      started,
      async () => {
        caCertPem = await Deno.readTextFile(certFile);
        return caCertPem.includes("-----END CERTIFICATE-----");
      },
    );
    httpClient = Deno.createHttpClient({ caCerts: [caCertPem] });
    const client = httpClient;
    await waitFor(`kube-apiserver at ${url}/readyz`, deadline, started, async () => {
      const response = await fetch(`${url}/readyz`, {
        headers: { Authorization: `Bearer ${token}` },
        client,
      });
      await response.body?.cancel();
      return response.status === 200;
    });

    const kubeconfigPath = join(dir, "kubeconfig");
    await Deno.writeTextFile(kubeconfigPath, kubeconfig(url, caCertPem, token), { mode: 0o600 });
    say(
      `kube-apiserver ${KUBERNETES_VERSION} ready at ${url} in ${
        seconds(performance.now() - began)
      } (etcd pid ${etcd.child.pid}, kube-apiserver pid ${apiServer.child.pid})`,
    );
    return {
      url,
      kubeconfigPath,
      token,
      caCertPem,
      kubectl: binaries.kubectl,
      dir,
      etcdUrl,
      pids: { etcd: etcd.child.pid, kubeApiServer: apiServer.child.pid },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
