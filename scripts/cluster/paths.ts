/** Where the development cluster keeps its state (`.cluster/`, git-ignored) and its fixed ports */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT: string = fileURLToPath(new URL("../..", import.meta.url));
/** Everything `cluster up` writes: data, certs, configs, logs, pid files; removed by `down` */
export const CLUSTER_DIR: string = join(REPO_ROOT, ".cluster");

/** The single node's name */
export const NODE_NAME = "mat-dev";
/** kube-apiserver's fixed address: the kubeconfig and every component point here */
export const API_SERVER_PORT = 16443;
export const API_SERVER_URL = `https://127.0.0.1:${API_SERVER_PORT}`;
export const ETCD_PORT = 16379;
export const ETCD_PEER_PORT = 16380;
export const KUBELET_HEALTHZ_PORT = 10248;
/** Service addresses (kube-apiserver's `--service-cluster-ip-range`) */
export const SERVICE_CIDR = "10.96.0.0/16";
/** Pod addresses on the CNI bridge */
export const POD_CIDR = "10.244.0.0/24";
/**
 * The bridge's own address, made by `up` before anything starts: pods reach the host here, where
 * kube-apiserver (advertised as the \`kubernetes\` Service's endpoint) and CoreDNS answer
 */
export const POD_GATEWAY = "10.244.0.1";
export const KUBE_PROXY_HEALTHZ_PORT = 10256;
/** The Linux bridge the CNI bridge plugin makes; `down` deletes it */
export const CNI_BRIDGE = "mat0";
/** The CNI network's name, which its iptables rules carry in a comment */
export const CNI_NETWORK = "multi-agent-telemetry";
/** The image containerd runs as every pod's sandbox, built and imported by `up` */
export const PAUSE_IMAGE = "localhost/multi-agent-telemetry/pause:1";
/** Debian's static busybox as an image (entrypoint \`/busybox\`), for smoke tests */
export const BUSYBOX_IMAGE = "localhost/multi-agent-telemetry/busybox:1";

/** Paths under `.cluster/` */
export const paths = {
  run: join(CLUSTER_DIR, "run"),
  logs: join(CLUSTER_DIR, "logs"),
  pki: join(CLUSTER_DIR, "pki"),
  kubeconfig: join(CLUSTER_DIR, "kubeconfig"),
  etcdData: join(CLUSTER_DIR, "etcd"),
  containerdConfig: join(CLUSTER_DIR, "containerd", "config.toml"),
  containerdRoot: join(CLUSTER_DIR, "containerd", "root"),
  containerdState: join(CLUSTER_DIR, "containerd", "state"),
  containerdSocket: join(CLUSTER_DIR, "containerd", "containerd.sock"),
  cniConfDir: join(CLUSTER_DIR, "cni", "net.d"),
  cniIpamDir: join(CLUSTER_DIR, "cni", "ipam"),
  kubeletRoot: join(CLUSTER_DIR, "kubelet"),
  kubeletConfig: join(CLUSTER_DIR, "kubelet-config.yaml"),
  images: join(CLUSTER_DIR, "images"),
  volumes: join(CLUSTER_DIR, "volumes"),
} as const;
