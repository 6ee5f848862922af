/**
 * The node's container runtime from Debian: containerd 1.6, runc and the CNI plugins, installed
 * with apt when missing; containerd's config, CNI bridge network and pause image, all under
 * `.cluster/` with containerd's own socket, root and state so no system containerd is touched.
 */

import { dirname, join } from "node:path";
import {
  BUSYBOX_IMAGE,
  CLUSTER_DIR,
  CNI_BRIDGE,
  CNI_NETWORK,
  paths,
  PAUSE_IMAGE,
  POD_CIDR,
  POD_GATEWAY,
} from "./paths.ts";
import { log, run, running, spawnComponent, waitUntil } from "./process.ts";
import { exists } from "../files.ts";

/** Debian packages and a file each installs, checked before calling apt */
const PACKAGES: readonly { name: string; file: string }[] = [
  { name: "containerd", file: "/usr/bin/containerd" },
  { name: "runc", file: "/usr/sbin/runc" },
  { name: "containernetworking-plugins", file: "/usr/lib/cni/bridge" },
  { name: "iptables", file: "/usr/sbin/iptables" },
  { name: "busybox-static", file: "/bin/busybox" },
  { name: "openssl", file: "/usr/bin/openssl" },
];
export const CONTAINERD = "/usr/bin/containerd";
export const CTR = "/usr/bin/ctr";
const CNI_BIN_DIR = "/usr/lib/cni";

/** Installs the packages whose files are missing (apt-get update first) */
export async function ensureHostPackages(): Promise<void> {
  const missing: string[] = [];
  for (const pkg of PACKAGES) if (!(await exists(pkg.file))) missing.push(pkg.name);
  if (missing.length === 0) return;
  log(`installing ${missing.join(", ")} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive", PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };
  await run("apt-get", ["update"], { env });
  await run("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { env });
}

function containerdConfig(): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `# Written by scripts/cluster.ts: containerd for the development cluster only.
version = 2
root = "${paths.containerdRoot}"
state = "${paths.containerdState}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "${paths.containerdSocket}"

[ttrpc]
  address = "${paths.containerdSocket}.ttrpc"

[${cri}]
  sandbox_image = "${PAUSE_IMAGE}"
  # Root here lacks CAP_SYS_RESOURCE: without this the pause container's oom_score_adj of -998
  # fails and runc says "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # Pod network namespaces under .cluster/containerd/state, not /var/run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  BinaryName = "/usr/sbin/runc"
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = "${CNI_BIN_DIR}"
  conf_dir = "${paths.cniConfDir}"

[${cri}.registry]
  config_path = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(CLUSTER_DIR, "containerd", "opt")}"
`;
}

function cniConfig(): string {
  return JSON.stringify(
    {
      cniVersion: "0.4.0",
      name: CNI_NETWORK,
      plugins: [
        {
          type: "bridge",
          bridge: CNI_BRIDGE,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: POD_CIDR }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: paths.cniIpamDir,
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  ) + "\n";
}

/** `ctr` against the cluster's containerd, in the CRI namespace */
export function ctr(args: readonly string[]): Promise<string> {
  return run(CTR, ["--address", paths.containerdSocket, "--namespace", "k8s.io", ...args]);
}

/** Writes containerd's and the CNI config and starts containerd unless it runs */
export async function ensureContainerd(): Promise<void> {
  const already = await running("containerd");
  if (already) {
    log(`containerd already running (pid ${already.pid})`);
    return;
  }
  await Deno.mkdir(dirname(paths.containerdConfig), { recursive: true });
  await Deno.mkdir(paths.cniConfDir, { recursive: true });
  await Deno.writeTextFile(paths.containerdConfig, containerdConfig());
  await Deno.writeTextFile(
    join(paths.cniConfDir, "10-multi-agent-telemetry.conflist"),
    cniConfig(),
  );
  const pid = await spawnComponent("containerd", CONTAINERD, ["--config", paths.containerdConfig]);
  await waitUntil(
    "containerd",
    `containerd's socket "${paths.containerdSocket}"`,
    30_000,
    async () => {
      await run(CTR, ["--address", paths.containerdSocket, "version"]);
      return true;
    },
  );
  log(`containerd ready (pid ${pid}, socket ${paths.containerdSocket})`);
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An OCI image layout tar of one static binary as `/<name>` and the entrypoint */
async function singleBinaryImage(binary: string, name: string, ref: string, dir: string) {
  const work = join(dir, `${name}-image`);
  // the work directory may not exist: nothing to remove
  await Deno.remove(work, { recursive: true }).catch(() => {});
  const rootfs = join(work, "rootfs");
  const blobs = join(work, "layout", "blobs", "sha256");
  await Deno.mkdir(rootfs, { recursive: true });
  await Deno.mkdir(blobs, { recursive: true });
  await Deno.copyFile(binary, join(rootfs, name));
  await Deno.chmod(join(rootfs, name), 0o755);
  const layerTar = join(work, "layer.tar");
  await run("tar", [
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--mtime=@0",
    "-C",
    rootfs,
    "-cf",
    layerTar,
    name,
  ]);
  const blob = async (bytes: Uint8Array<ArrayBuffer>) => {
    const hex = await sha256Hex(bytes);
    await Deno.writeFile(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const layer = await blob(await Deno.readFile(layerTar));
  const config = await blob(json({
    architecture: "amd64",
    os: "linux",
    config: { Entrypoint: [`/${name}`] },
    rootfs: { type: "layers", diff_ids: [layer.digest] },
  }));
  const manifest = await blob(json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
  }));
  await Deno.writeFile(join(work, "layout", "oci-layout"), json({ imageLayoutVersion: "1.0.0" }));
  await Deno.writeFile(
    join(work, "layout", "index.json"),
    json({
      schemaVersion: 2,
      manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifest,
        annotations: {
          "io.containerd.image.name": ref,
          "org.opencontainers.image.ref.name": ref.slice(ref.lastIndexOf(":") + 1),
        },
      }],
    }),
  );
  const imageTar = join(dir, `${name}.oci.tar`);
  await run("tar", ["-C", join(work, "layout"), "-cf", imageTar, "."]);
  await Deno.remove(work, { recursive: true });
  return imageTar;
}

/** Packs a static binary as image `ref` and imports it into containerd's `k8s.io` namespace */
async function ensureImage(binary: string, name: string, ref: string): Promise<void> {
  const images = await ctr(["images", "ls", "-q"]);
  if (images.split("\n").includes(ref)) return;
  await Deno.mkdir(paths.images, { recursive: true });
  const tar = await singleBinaryImage(binary, name, ref, paths.images);
  await ctr(["images", "import", tar]);
  const after = await ctr(["images", "ls", "-q"]);
  if (!after.split("\n").includes(ref)) {
    throw new Error(`Importing "${tar}" did not make image "${ref}"; images: ${after}`);
  }
  log(`imported ${ref} into containerd`);
}

/** `PAUSE_IMAGE` (the sandbox image) and `BUSYBOX_IMAGE`, imported unless present */
export async function ensureImages(pauseBinary: string): Promise<void> {
  await ensureImage(pauseBinary, "pause", PAUSE_IMAGE);
  await ensureImage("/bin/busybox", "busybox", BUSYBOX_IMAGE);
}

/** The CNI bridge with its gateway address, made before anything listens on that address */
export async function ensureBridge(): Promise<void> {
  const links = await run("ip", ["-o", "link", "show"]);
  if (!links.includes(` ${CNI_BRIDGE}:`)) {
    await run("ip", ["link", "add", CNI_BRIDGE, "type", "bridge"]);
  }
  const addresses = await run("ip", ["-o", "-4", "addr", "show", "dev", CNI_BRIDGE]);
  if (!addresses.includes(` ${POD_GATEWAY}/`)) {
    await run("ip", ["addr", "add", `${POD_GATEWAY}/${POD_CIDR.split("/")[1]}`, "dev", CNI_BRIDGE]);
  }
  await run("ip", ["link", "set", CNI_BRIDGE, "up"]);
}
