/**
 * The cluster's default StorageClass, `local-path`, and a pool of hostPath PersistentVolumes for
 * it under `.cluster/volumes/` (removed by `down`), so the manifests' PersistentVolumeClaims bind.
 *
 * Static volumes rather than kube-controller-manager's `--enable-hostpath-provisioner`: that one
 * makes root-owned 0750 directories under /tmp, which the manifests' non-root pods cannot write
 * (fsGroup does not apply to hostPath) and which `.cluster/` would not hold.
 */

import { join } from "node:path";
import { paths } from "./paths.ts";
import { log, run } from "./process.ts";

export const STORAGE_CLASS = "local-path";
/** Volumes in the pool and the capacity each claims to have (hostPath enforces none) */
const VOLUMES = 8;
const CAPACITY = "20Gi";

function manifests(): unknown {
  const volumes = Array.from({ length: VOLUMES }, (_, i) => ({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: `local-path-${i}`, labels: { "multi-agent-telemetry/cluster": "dev" } },
    spec: {
      capacity: { storage: CAPACITY },
      accessModes: ["ReadWriteOnce", "ReadWriteMany"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: STORAGE_CLASS,
      hostPath: { path: join(paths.volumes, `pv-${i}`), type: "DirectoryOrCreate" },
    },
  }));
  return {
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: {
          name: STORAGE_CLASS,
          annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
        },
        provisioner: "kubernetes.io/no-provisioner",
        reclaimPolicy: "Retain",
        volumeBindingMode: "Immediate",
      },
      ...volumes,
    ],
  };
}

/** The pool's volumes a deleted claim left `Released` (the reclaim policy is Retain) */
async function releasedVolumes(kubectl: string): Promise<string[]> {
  const out = await run(kubectl, [
    `--kubeconfig=${paths.kubeconfig}`,
    "get",
    "pv",
    "-l",
    "multi-agent-telemetry/cluster=dev",
    "-o",
    'jsonpath={range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\\n"}{end}',
  ]);
  return out.split("\n").filter((name) => /^local-path-\d+$/.test(name));
}

/**
 * Makes the volumes' directories (mode 0777: pods run as any user), applies the objects, and
 * makes each volume a deleted claim released available again, emptied: what an administrator does
 * by hand for a Retain volume, so a namespace deleted and made again binds its claims
 */
export async function ensureStorage(kubectl: string): Promise<void> {
  for (let i = 0; i < VOLUMES; i++) {
    const dir = join(paths.volumes, `pv-${i}`);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.chmod(dir, 0o777);
  }
  await run(kubectl, [`--kubeconfig=${paths.kubeconfig}`, "apply", "-f", "-"], {
    stdin: new TextEncoder().encode(JSON.stringify(manifests())),
  });
  const released = await releasedVolumes(kubectl);
  for (const name of released) {
    const dir = join(paths.volumes, `pv-${name.slice("local-path-".length)}`);
    await Deno.remove(dir, { recursive: true });
    await Deno.mkdir(dir, { recursive: true });
    await Deno.chmod(dir, 0o777);
    await run(kubectl, [
      `--kubeconfig=${paths.kubeconfig}`,
      "patch",
      "pv",
      name,
      "--type=json",
      '-p=[{"op":"remove","path":"/spec/claimRef"}]',
    ]);
  }
  log(
    `default StorageClass "${STORAGE_CLASS}" with ${VOLUMES} hostPath volumes of ${CAPACITY}` +
      (released.length > 0 ? `; ${released.length} released volume(s) emptied for reuse` : ""),
  );
}
