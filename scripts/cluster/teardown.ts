/**
 * `cluster down`: pods first (so the kubelet stops their sandboxes and the CNI plugin removes
 * their network), then every process in reverse start order, then whatever a crash left behind:
 * containerd shims and container processes, mounts under `.cluster/` and network namespaces,
 * the CNI bridge. Ends with no process and no mount, and `.cluster/` removed.
 */

import { CLUSTER_DIR, CNI_BRIDGE, CNI_NETWORK, paths } from "./paths.ts";
import { ctr } from "./host.ts";
import { COMPONENTS, log, run, running, stopComponent } from "./process.ts";
import { errorText, sleep } from "@mat/agents/support";

/** Mount points from /proc/mounts, deepest last, octal escapes (`\040`) decoded */
async function mountPoints(): Promise<string[]> {
  const text = await Deno.readTextFile("/proc/mounts");
  return text.split("\n").filter((line) => line !== "").map((line) =>
    (line.split(" ")[1] ?? "").replace(
      /\\([0-7]{3})/g,
      (_, octal: string) => String.fromCharCode(parseInt(octal, 8)),
    )
  );
}

/**
 * Mounts this cluster made: all are under `.cluster/` (containerd keeps pod network namespaces in
 * its state directory there, `netns_mounts_under_state_dir`)
 */
export async function clusterMounts(): Promise<string[]> {
  return (await mountPoints()).filter((point) => point.startsWith(`${CLUSTER_DIR}/`));
}

async function tasks(): Promise<string[]> {
  return (await ctr(["tasks", "ls", "-q"])).split("\n").filter((id) => id !== "");
}

/** Deletes every pod with the controllers stopped and waits for containerd to run no task */
async function drainPods(kubectl: string): Promise<void> {
  try {
    await run(kubectl, [
      `--kubeconfig=${paths.kubeconfig}`,
      "delete",
      "pods",
      "--all",
      "--all-namespaces",
      "--grace-period=5",
      "--wait=false",
    ]);
  } catch (error) {
    log(`deleting pods failed, going on: ${errorText(error)}`);
    return;
  }
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const left = await tasks();
    if (left.length === 0) return;
    await sleep(500);
  }
  log(`containerd still runs ${(await tasks()).length} task(s) after 60s: killing them`);
}

/** Pids of processes whose /proc/<pid>/<file> passes `test` */
async function pidsWhere(file: "cmdline" | "cgroup", test: (text: string) => boolean) {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      if (test(await Deno.readTextFile(`/proc/${entry.name}/${file}`))) {
        pids.push(Number(entry.name));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function killAll(what: string, pids: number[]): Promise<void> {
  if (pids.length === 0) return;
  log(`killing ${pids.length} leftover ${what} (pids ${pids.join(", ")})`);
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  await sleep(500);
}

/**
 * One table of `iptables-save` without what this cluster added: the kubelet's `KUBE-*` chains
 * (no other Kubernetes runs here) and the CNI bridge's rules and `CNI-*` chains, which carry the
 * network's name in a comment. Undefined when nothing is to be removed.
 */
export function withoutClusterRules(save: string, network: string): string | undefined {
  const lines = save.split("\n");
  const ours = new Set<string>();
  for (const line of lines) {
    if (!line.includes(`name: \\"${network}\\"`)) continue;
    for (const match of line.matchAll(/(?:-A|-j) (CNI-[0-9a-f]+)/g)) ours.add(match[1] ?? "");
  }
  const isOurs = (line: string): boolean => {
    if (line.includes(`name: \\"${network}\\"`)) return true;
    const chain = /^:(\S+) /.exec(line)?.[1] ?? /^-A (\S+) /.exec(line)?.[1];
    if (chain !== undefined && (chain.startsWith("KUBE-") || ours.has(chain))) return true;
    const target = / -[jg] (\S+)/.exec(line)?.[1];
    return target !== undefined && (target.startsWith("KUBE-") || ours.has(target));
  };
  const kept = lines.filter((line) => !isOurs(line));
  return kept.length === lines.length ? undefined : kept.join("\n");
}

/** Removes the cluster's iptables and ip6tables rules and chains (see `withoutClusterRules`) */
async function removeIptablesRules(network: string): Promise<void> {
  for (
    const [save, restore] of [["iptables-save", "iptables-restore"], [
      "ip6tables-save",
      "ip6tables-restore",
    ]] as const
  ) {
    for (const table of ["filter", "nat", "mangle"]) {
      let text: string;
      try {
        text = await run(save, ["-t", table]);
      } catch (error) {
        log(`cannot read ${table} with ${save}, skipped: ${errorText(error)}`);
        continue;
      }
      const cleaned = withoutClusterRules(text, network);
      if (cleaned === undefined) continue;
      await run(restore, [], { stdin: new TextEncoder().encode(cleaned) });
      log(`removed the cluster's ${save.replace("-save", "")} rules from table ${table}`);
    }
  }
}

/** Removes the kubelet's empty `kubepods` cgroups (cgroupfs driver) in every hierarchy, leaves first */
async function removeKubepodsCgroups(): Promise<void> {
  const remove = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await remove(`${dir}/${entry.name}`);
    }
    await Deno.remove(dir);
  };
  for await (const hierarchy of Deno.readDir("/sys/fs/cgroup")) {
    const dir = `/sys/fs/cgroup/${hierarchy.name}/kubepods`;
    try {
      await remove(dir);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        log(`cannot remove cgroup "${dir}", left in place: ${errorText(error)}`);
      }
    }
  }
}

/** Stops the cluster and removes `.cluster/`; safe to run on a cluster that is half up or down */
export async function down(kubectl: () => Promise<string>): Promise<void> {
  if ((await running("kube-apiserver")) && (await running("kubelet"))) {
    await stopComponent("kube-controller-manager");
    await stopComponent("kube-scheduler");
    if (await running("containerd")) await drainPods(await kubectl());
  }
  await stopComponent("kubelet");
  if (await running("containerd")) {
    for (const id of await tasks()) {
      await ctr(["tasks", "kill", "--signal", "SIGKILL", id]).catch(() => "");
    }
    await sleep(1_000);
    for (const id of await tasks()) await ctr(["tasks", "delete", "--force", id]).catch(() => "");
  }
  for (const name of [...COMPONENTS].reverse()) await stopComponent(name);

  // What a crash or a kill can leave: container processes in the kubelet's cgroups, shims.
  await killAll(
    "container processes",
    await pidsWhere("cgroup", (text) => text.includes("/kubepods")),
  );
  await killAll(
    "containerd shims",
    await pidsWhere("cmdline", (text) => text.includes(paths.containerdSocket)),
  );
  for (const point of (await clusterMounts()).reverse()) {
    try {
      await run("umount", [point]);
    } catch {
      await run("umount", ["--lazy", point]);
    }
  }
  await run("ip", ["link", "delete", CNI_BRIDGE]).catch(() => "");
  await removeIptablesRules(CNI_NETWORK);
  await removeKubepodsCgroups();
  const mounts = await clusterMounts();
  if (mounts.length > 0) {
    throw new Error(`Mounts remain after unmounting: "${mounts.join('", "')}"`);
  }
  await Deno.remove(CLUSTER_DIR, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}
