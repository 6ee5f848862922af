/**
 * Service routing and cluster DNS: kube-proxy in iptables mode, and CoreDNS as a process on this
 * machine answering on the bridge's address (the kubelet's `clusterDNS`), reading Services and
 * Endpoints with the admin kubeconfig. Both run outside containers: no image to build, and `down`
 * stops them like the other components.
 */

import { join } from "node:path";
import {
  CLUSTER_DIR,
  KUBE_PROXY_HEALTHZ_PORT,
  NODE_NAME,
  paths,
  POD_CIDR,
  POD_GATEWAY,
} from "./paths.ts";
import { type Component, log, running, spawnComponent, waitUntil } from "./process.ts";

const COREDNS_READY_PORT = 18181;
const COREDNS_HEALTH_PORT = 18080;
const KUBE_PROXY_CONFIG = join(CLUSTER_DIR, "kube-proxy-config.json");
const COREFILE = join(CLUSTER_DIR, "Corefile");

function kubeProxyConfig(): string {
  return JSON.stringify(
    {
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      clientConnection: { kubeconfig: paths.kubeconfig },
      hostnameOverride: NODE_NAME,
      mode: "iptables",
      clusterCIDR: POD_CIDR,
      healthzBindAddress: `127.0.0.1:${KUBE_PROXY_HEALTHZ_PORT}`,
      metricsBindAddress: "127.0.0.1:10249",
      // Leave the machine's conntrack sysctls and route_localnet as they are.
      conntrack: { maxPerCore: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
      iptables: { localhostNodePorts: false },
      // NodePorts on the node's address (the bridge's), not on every address of this machine.
      nodePortAddresses: ["primary"],
    },
    null,
    2,
  ) + "\n";
}

function corefile(): string {
  return `.:53 {
    bind ${POD_GATEWAY}
    errors
    health 127.0.0.1:${COREDNS_HEALTH_PORT}
    ready 127.0.0.1:${COREDNS_READY_PORT}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${paths.kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
}
`;
}

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.body?.cancel();
  return response.ok;
}

async function already(name: Component): Promise<boolean> {
  const process = await running(name);
  if (process) log(`${name} already running (pid ${process.pid})`);
  return process !== undefined;
}

/** Starts kube-proxy unless it runs; waits for its /healthz */
export async function ensureKubeProxy(binary: string): Promise<void> {
  if (await already("kube-proxy")) return;
  await Deno.writeTextFile(KUBE_PROXY_CONFIG, kubeProxyConfig());
  const pid = await spawnComponent("kube-proxy", binary, [`--config=${KUBE_PROXY_CONFIG}`]);
  const url = `http://127.0.0.1:${KUBE_PROXY_HEALTHZ_PORT}/healthz`;
  await waitUntil("kube-proxy", `kube-proxy's ${url}`, 60_000, () => httpOk(url));
  log(`kube-proxy ready (pid ${pid})`);
}

/** Starts CoreDNS on the bridge's address unless it runs; waits until it has read the API */
export async function ensureCoreDns(binary: string): Promise<void> {
  if (await already("coredns")) return;
  await Deno.writeTextFile(COREFILE, corefile());
  const pid = await spawnComponent("coredns", binary, ["-conf", COREFILE]);
  const url = `http://127.0.0.1:${COREDNS_READY_PORT}/ready`;
  await waitUntil("coredns", `CoreDNS's ${url}`, 60_000, () => httpOk(url));
  log(`CoreDNS ready on ${POD_GATEWAY}:53 (pid ${pid})`);
}
