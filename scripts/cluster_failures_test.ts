/**
 * Real pod failures on the development cluster (`deno task cluster up`), seen by the observer's
 * Kubernetes source and diagnosed by the oracle: the kernel OOM-killing a container over its
 * memory limit, the real kubelet's CrashLoopBackOff for a container that exits on start, and a
 * pod deleted. Nothing is written by hand: every status comes from the kubelet.
 *
 * Needs root (containerd, mounts, iptables) and the cluster's binaries (built when missing, as
 * `cluster up` does). The cluster is brought up when it is not, and down again after if this test
 * brought it up. The pods run the cluster's busybox image: the agents' own image is built by
 * `deno task images` (the task a pod held is checked by the quick start test, not here).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KafkaAdapter } from "../observer/kafka_adapter.ts";
import { K8sSource } from "../observer/k8s_source.ts";
import { Observer } from "../observer/observer.ts";
import { TestBed, waitFor } from "../observer/testing.ts";
import type { DiffRecord } from "../observer/record_format.ts";
import { ensureKubectl } from "./kube_apiserver.ts";
import { BUSYBOX_IMAGE, paths } from "./cluster/paths.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLUSTER = join(REPO_ROOT, "scripts", "cluster.ts");
const ORACLE = join(REPO_ROOT, "oracle", "main.ts");

const skipReason = Deno.uid() !== 0
  ? "the development cluster needs root (containerd, mounts, iptables)"
  : undefined;
if (skipReason !== undefined) console.log(`cluster_failures_test: skipping: ${skipReason}`);

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

function pod(name: string, agent: string, script: string, memory = "64Mi") {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      labels: { "app.kubernetes.io/part-of": "multi-agent-system", agent },
    },
    spec: {
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: "agent",
        image: BUSYBOX_IMAGE,
        imagePullPolicy: "Never",
        command: ["/busybox", "sh", "-c", script],
        resources: { limits: { memory }, requests: { memory } },
      }],
    },
  };
}

Deno.test({
  name:
    "pods OOM-killed, crash-looping and deleted on a real kubelet are diagnosed by kind, agent and pod",
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const status = await run(Deno.execPath(), ["run", "--allow-all", CLUSTER, "status"]);
    const broughtUp = status.code !== 0;
    if (broughtUp) {
      const up = await run(Deno.execPath(), ["run", "--allow-all", CLUSTER, "up"]);
      assert.equal(up.code, 0, `cluster up failed:\n${up.stderr.slice(-3000)}`);
    }
    const kubectl = await ensureKubectl();
    const namespace = `failures-${crypto.randomUUID().slice(0, 8)}`;
    const k = (args: string[], stdin?: string) =>
      stdin === undefined
        ? run(kubectl, [`--kubeconfig=${paths.kubeconfig}`, "-n", namespace, ...args])
        : run("sh", [
          "-c",
          `printf '%s' "$MANIFEST" | ${kubectl} --kubeconfig=${paths.kubeconfig} -n ${namespace} ${
            args.join(" ")
          }`,
        ], { MANIFEST: stdin });
    const bed = await TestBed.create(["researcher", "writer", "coder"], 1);
    const kafka = new KafkaAdapter({ brokers: bed.config().brokers, clientId: "failures" });
    const observer = await Observer.open(bed.config(), kafka);
    try {
      const ns = await run(kubectl, [
        `--kubeconfig=${paths.kubeconfig}`,
        "create",
        "ns",
        namespace,
      ]);
      assert.equal(ns.code, 0, ns.stderr);
      observer.processSource = new K8sSource({
        kubeconfigPath: paths.kubeconfig,
        namespace,
        labelSelector: "app.kubernetes.io/part-of=multi-agent-system",
        metricsIntervalMs: 0,
      });
      observer.start();
      const pods = [
        // Fills 64 MiB of memory in a 20 MiB container: the kernel kills it, the kubelet says so
        pod("agent-researcher-oom", "researcher", "sleep 2; head -c 64m /dev/zero | tail", "20Mi"),
        pod("agent-writer-exit", "writer", "echo cannot start >&2; exit 3"),
        pod("agent-coder-idle", "coder", "sleep 3600"),
      ];
      for (const p of pods) {
        const created = await k(["apply", "-f", "-"], JSON.stringify(p));
        assert.equal(created.code, 0, created.stderr);
      }
      const events = async () =>
        (await bed.diff()).filter((r): r is Extract<DiffRecord, { type: "runtime_event" }> =>
          r.type === "runtime_event"
        );
      await waitFor(
        async () =>
          (await events()).some((r) => r.agent === "researcher" && r.reason === "OOMKilled"),
        120_000,
        "the researcher's OOM kill",
      );
      await waitFor(
        async () => (await events()).some((r) => r.agent === "writer" && r.kind === "crash_loop"),
        120_000,
        "the writer's CrashLoopBackOff",
      );
      await waitFor(
        async () => (await events()).some((r) => r.agent === "coder" && r.kind === "started"),
        60_000,
        "the coder running",
      );
      const deleted = await k(["delete", "pod", "agent-coder-idle", "--wait=true"]);
      assert.equal(deleted.code, 0, deleted.stderr);
      await waitFor(
        async () => (await events()).some((r) => r.agent === "coder" && r.kind === "deleted"),
        60_000,
        "the coder's deletion",
      );
      await observer.snapshot();
      await observer.diff.flush();

      const oracle = await run(Deno.execPath(), [
        "run",
        "--allow-read",
        "--allow-env",
        ORACLE,
        "diagnose",
        "-f",
        "json",
        "--data-dir",
        bed.dataDir,
      ], { NO_COLOR: "1" });
      assert.equal(oracle.code, 0, oracle.stderr);
      const doc = JSON.parse(oracle.stdout);
      const roots: {
        kind: string;
        agent: string | null;
        process: string | null;
        summary: string;
      }[] = doc.incidents.map((i: { root_cause: unknown }) => i.root_cause);
      const of = (agent: string) => roots.find((r) => r.agent === agent);
      const researcher = of("researcher");
      assert.ok(
        researcher !== undefined && /crash_loop|crashed|restarted/.test(researcher.kind),
        JSON.stringify(roots),
      );
      assert.equal(researcher.process, "agent-researcher-oom");
      assert.match(researcher.summary, /OOMKilled/);
      const writer = of("writer");
      assert.equal(writer?.kind, "agent_crash_loop", JSON.stringify(roots));
      assert.equal(writer?.process, "agent-writer-exit");
      const coder = of("coder");
      assert.ok(coder !== undefined, `the deleted pod is an incident: ${JSON.stringify(roots)}`);
      assert.equal(coder.process, "agent-coder-idle");
    } finally {
      await observer.stop();
      await kafka.close();
      await bed.close();
      await run(kubectl, [
        `--kubeconfig=${paths.kubeconfig}`,
        "delete",
        "ns",
        namespace,
        "--wait=false",
      ]);
      if (broughtUp) {
        const down = await run(Deno.execPath(), ["run", "--allow-all", CLUSTER, "down"]);
        assert.equal(down.code, 0, `cluster down failed:\n${down.stderr.slice(-3000)}`);
      }
    }
  },
});
