/**
 * etcd, kube-apiserver, kube-controller-manager and kube-scheduler of the development cluster.
 *
 * kube-apiserver serves on the fixed address `API_SERVER_URL` with the self-signed certificate it
 * makes in `.cluster/pki/` and signs service account tokens with a key made once per cluster.
 * Every component, and the kubeconfig `kubectl` and scripts/setup.sh use, authenticates with one
 * admin bearer token in group `system:masters`: this is a development and test cluster, not a
 * secure one.
 */

import { ETCD_VERSION } from "../kube_apiserver/build.ts";
import { randomToken, serviceAccountKeyPair } from "../kube_apiserver/pki.ts";
import {
  API_SERVER_PORT,
  API_SERVER_URL,
  ETCD_PEER_PORT,
  ETCD_PORT,
  paths,
  POD_GATEWAY,
  SERVICE_CIDR,
} from "./paths.ts";
import { ensureCertificates, pki } from "./pki.ts";
import { type Component, log, running, spawnComponent, waitUntil } from "./process.ts";
import { isRecord, sleep } from "@mat/agents/support";

const ADMIN_USER = "cluster-admin";
const CONTEXT = "multi-agent-telemetry-dev";

/** Binaries the control plane runs */
export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiServer: string;
  kubeControllerManager: string;
  kubeScheduler: string;
}

/** The admin token, made on the first `up` and kept in `.cluster/pki/tokens.csv` */
async function adminToken(): Promise<string> {
  try {
    const line = (await Deno.readTextFile(pki.tokens)).split("\n")[0] ?? "";
    const token = line.split(",")[0];
    if (token) return token;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const token = randomToken();
  await Deno.writeTextFile(pki.tokens, `${token},${ADMIN_USER},${ADMIN_USER},system:masters\n`, {
    mode: 0o600,
  });
  return token;
}

/** A client for the cluster's API with the admin token; undefined before the first `up` */
export async function apiClient(): Promise<ApiClient | undefined> {
  try {
    const caCertPem = await Deno.readTextFile(pki.caCert);
    const token = (await Deno.readTextFile(pki.tokens)).split(",")[0] ?? "";
    return new ApiClient(caCertPem, token);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** GETs on kube-apiserver, answering `unknown` JSON for the caller to narrow */
export class ApiClient {
  readonly #client: Deno.HttpClient;
  readonly #token: string;
  constructor(caCertPem: string, token: string) {
    this.#client = Deno.createHttpClient({ caCerts: [caCertPem] });
    this.#token = token;
  }
  /** The status code and the parsed body (undefined when not JSON) */
  async get(path: string): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${API_SERVER_URL}${path}`, {
      headers: { Authorization: `Bearer ${this.#token}` },
      client: this.#client,
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    let body: unknown = undefined;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: /readyz answers "ok"
    }
    return { status: response.status, body };
  }
  close(): void {
    this.#client.close();
  }
}

function kubeconfig(caCertPem: string, token: string): string {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: CONTEXT,
      cluster: { server: API_SERVER_URL, "certificate-authority-data": btoa(caCertPem) },
    }],
    users: [{ name: ADMIN_USER, user: { token } }],
    contexts: [{
      name: CONTEXT,
      context: { cluster: CONTEXT, user: ADMIN_USER, namespace: "default" },
    }],
    "current-context": CONTEXT,
    preferences: {},
  };
  return JSON.stringify(config, null, 2) + "\n";
}

async function already(name: Component): Promise<boolean> {
  const process = await running(name);
  if (process) log(`${name} already running (pid ${process.pid})`);
  return process !== undefined;
}

async function startEtcd(binary: string): Promise<void> {
  if (await already("etcd")) return;
  await Deno.mkdir(paths.etcdData, { recursive: true, mode: 0o700 });
  const client = `http://127.0.0.1:${ETCD_PORT}`;
  const peer = `http://127.0.0.1:${ETCD_PEER_PORT}`;
  const pid = await spawnComponent("etcd", binary, [
    "--name=cluster",
    `--data-dir=${paths.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=cluster=${peer}`,
    "--listen-metrics-urls=",
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ]);
  await waitUntil("etcd", `etcd at ${client}/health`, 60_000, async () => {
    const response = await fetch(`${client}/health`, { signal: AbortSignal.timeout(2_000) });
    const body: unknown = await response.json();
    return response.ok && isRecord(body) && body.health === "true";
  });
  log(`etcd ${ETCD_VERSION} ready (pid ${pid})`);
}

async function startApiServer(binary: string): Promise<void> {
  if (await already("kube-apiserver")) return;
  // a key that does not exist is made below
  if (!(await Deno.stat(pki.saKey).catch(() => undefined))) {
    const keys = await serviceAccountKeyPair();
    await Deno.writeTextFile(pki.saKey, keys.privateKey, { mode: 0o600 });
    await Deno.writeTextFile(pki.saPub, keys.publicKey);
  }
  const token = await adminToken();
  const pid = await spawnComponent("kube-apiserver", binary, [
    // Pods reach kube-apiserver through the `kubernetes` Service at the bridge's address; kubectl
    // and the components at 127.0.0.1. It listens on every address, with TLS and a token.
    `--advertise-address=${POD_GATEWAY}`,
    "--bind-address=0.0.0.0",
    `--secure-port=${API_SERVER_PORT}`,
    `--etcd-servers=http://127.0.0.1:${ETCD_PORT}`,
    `--tls-cert-file=${pki.apiServerCert}`,
    `--tls-private-key-file=${pki.apiServerKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--allow-privileged=true",
    "--authorization-mode=Node,RBAC",
    `--service-account-issuer=${API_SERVER_URL}`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    `--token-auth-file=${pki.tokens}`,
    // The kubelet serves with a self-signed certificate: logs and exec skip verifying it, and
    // authenticate with a client certificate the kubelet checks against the cluster's CA.
    "--kubelet-preferred-address-types=InternalIP,Hostname",
    `--kubelet-client-certificate=${pki.kubeletClientCert}`,
    `--kubelet-client-key=${pki.kubeletClientKey}`,
  ]);
  let client: ApiClient | undefined;
  try {
    await waitUntil(
      "kube-apiserver",
      `kube-apiserver at ${API_SERVER_URL}/readyz`,
      120_000,
      async () => {
        client ??= await apiClient();
        return client !== undefined && (await client.get("/readyz")).status === 200;
      },
    );
  } finally {
    client?.close();
  }
  const caCertPem = await Deno.readTextFile(pki.caCert);
  await Deno.writeTextFile(paths.kubeconfig, kubeconfig(caCertPem, token), { mode: 0o600 });
  log(`kube-apiserver ready at ${API_SERVER_URL} (pid ${pid})`);
}

function componentAuthArgs(): string[] {
  return [
    `--kubeconfig=${paths.kubeconfig}`,
    `--authentication-kubeconfig=${paths.kubeconfig}`,
    `--authorization-kubeconfig=${paths.kubeconfig}`,
    // Bearer tokens are checked with kube-apiserver; no client or front-proxy CA to read from
    // kube-system/extension-apiserver-authentication (it has no request-header CA: without
    // this the controller manager and the scheduler log an error many times a second).
    "--authentication-skip-lookup=true",
    "--bind-address=127.0.0.1",
    "--leader-elect=false",
  ];
}

async function startControllerManager(binary: string): Promise<void> {
  if (await already("kube-controller-manager")) return;
  const pid = await spawnComponent("kube-controller-manager", binary, [
    ...componentAuthArgs(),
    `--root-ca-file=${pki.caCert}`,
    `--service-account-private-key-file=${pki.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--use-service-account-credentials=false",
  ]);
  const client = await apiClient();
  try {
    await waitUntil(
      "kube-controller-manager",
      'the ServiceAccount "default" in namespace "default"',
      60_000,
      async () =>
        (await client?.get("/api/v1/namespaces/default/serviceaccounts/default"))?.status === 200,
    );
  } finally {
    client?.close();
  }
  log(`kube-controller-manager running (pid ${pid})`);
}

async function startScheduler(binary: string): Promise<void> {
  if (await already("kube-scheduler")) return;
  const pid = await spawnComponent("kube-scheduler", binary, componentAuthArgs());
  // Its health endpoint serves a self-signed certificate; alive after 3 s is the check here and
  // a scheduled pod is the real one.
  await sleep(3_000);
  await waitUntil(
    "kube-scheduler",
    "kube-scheduler to stay up",
    1_000,
    () => Promise.resolve(true),
  );
  log(`kube-scheduler running (pid ${pid})`);
}

/** Starts whichever of etcd, kube-apiserver, kube-controller-manager and kube-scheduler is down */
export async function ensureControlPlane(binaries: ControlPlaneBinaries): Promise<void> {
  await ensureCertificates();
  await startEtcd(binaries.etcd);
  await startApiServer(binaries.kubeApiServer);
  await startControllerManager(binaries.kubeControllerManager);
  await startScheduler(binaries.kubeScheduler);
}
