/**
 * The kubelet of the development cluster's one node: cgroupfs, no swap check, containerd's CRI
 * socket under `.cluster/`, its root directory (pod volumes) under `.cluster/kubelet`, the admin
 * kubeconfig, and its API on the bridge's address, for clients with a certificate of the cluster's
 * CA or a token kube-apiserver vouches for (webhook authentication and authorization).
 */

import { API_SERVER_URL, KUBELET_HEALTHZ_PORT, NODE_NAME, paths, POD_GATEWAY } from "./paths.ts";
import { type ApiClient, apiClient } from "./control_plane.ts";
import { pki } from "./pki.ts";
import { log, running, spawnComponent, waitUntil } from "./process.ts";

function kubeletConfig(): string {
  return JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      cgroupDriver: "cgroupfs",
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
      // Its API on the bridge's address only: kube-apiserver reaches it there (logs, exec),
      // nothing outside this machine does.
      address: POD_GATEWAY,
      healthzBindAddress: "127.0.0.1",
      healthzPort: KUBELET_HEALTHZ_PORT,
      readOnlyPort: 0,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: pki.caCert },
      },
      authorization: { mode: "Webhook" },
      clusterDomain: "cluster.local",
      clusterDNS: [POD_GATEWAY],
      resolvConf: "/etc/resolv.conf",
      // This VM's disk is shared with everything else: do not evict pods over it.
      evictionHard: {
        "memory.available": "100Mi",
        "nodefs.available": "1%",
        "imagefs.available": "1%",
      },
      imageGCHighThresholdPercent: 100,
      serializeImagePulls: false,
      registerNode: true,
    },
    null,
    2,
  ) + "\n";
}

/** The node's Ready condition status ("True", "False", "Unknown") from a Node object */
export function nodeReady(node: unknown): string | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const status = (node as Record<string, unknown>).status;
  if (typeof status !== "object" || status === null) return undefined;
  const conditions = (status as Record<string, unknown>).conditions;
  if (!Array.isArray(conditions)) return undefined;
  for (const condition of conditions as unknown[]) {
    if (typeof condition !== "object" || condition === null) continue;
    const record = condition as Record<string, unknown>;
    if (record.type === "Ready" && typeof record.status === "string") return record.status;
  }
  return undefined;
}

/** The node's Ready status as the API server reports it, or undefined with no node or API */
export async function readyStatus(client: ApiClient): Promise<string | undefined> {
  const { status, body } = await client.get(`/api/v1/nodes/${NODE_NAME}`);
  return status === 200 ? nodeReady(body) : undefined;
}

/** Starts the kubelet unless it runs and waits until the node is Ready */
export async function ensureKubelet(binary: string): Promise<void> {
  const already = await running("kubelet");
  let pid = already?.pid;
  if (already) {
    log(`kubelet already running (pid ${already.pid})`);
  } else {
    await Deno.mkdir(paths.kubeletRoot, { recursive: true });
    await Deno.writeTextFile(paths.kubeletConfig, kubeletConfig());
    pid = await spawnComponent("kubelet", binary, [
      `--config=${paths.kubeletConfig}`,
      `--kubeconfig=${paths.kubeconfig}`,
      `--root-dir=${paths.kubeletRoot}`,
      `--cert-dir=${paths.kubeletRoot}/pki`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${POD_GATEWAY}`,
    ]);
    await waitUntil("kubelet", `the kubelet's /healthz`, 60_000, async () => {
      const response = await fetch(`http://127.0.0.1:${KUBELET_HEALTHZ_PORT}/healthz`, {
        signal: AbortSignal.timeout(2_000),
      });
      await response.body?.cancel();
      return response.ok;
    });
  }
  const client = await apiClient();
  if (client === undefined) throw new Error(`No API server credentials in "${paths.pki}"`);
  try {
    await waitUntil(
      "kubelet",
      `node "${NODE_NAME}" Ready at ${API_SERVER_URL}`,
      120_000,
      async () => (await readyStatus(client)) === "True",
    );
  } finally {
    client.close();
  }
  log(`node "${NODE_NAME}" Ready (kubelet pid ${pid})`);
}
