/**
 * The Kubernetes process source against a real kube-apiserver and etcd (scripts/kube_apiserver.ts).
 * No kubelet runs: the tests create pods and write their `status` the way a kubelet would, and
 * create Events directly (helpers in `testing/`). The resilience test puts a TCP proxy between the
 * source and the server to drop its connections, and makes it resume from a version the server no
 * longer has (410). The unit tests of the source's parts sit beside them (`k8s_*_test.ts`).
 */

import assert from "node:assert/strict";
import {
  type KubeApiServer,
  kubeBinariesAvailability,
  startKubeApiServer,
} from "../scripts/kube_apiserver.ts";
import { createEnvelope, encodeEnvelope } from "@mat/agents/protocol";
import { K8sSource } from "./k8s_source.ts";
import { KafkaAdapter } from "./kafka_adapter.ts";
import { Observer } from "./observer.ts";
import type { DiffRecord } from "./record_format.ts";
import { TestBed, waitFor } from "./testing.ts";
import { CuttableProxy } from "./testing/cuttable_proxy.ts";
import { Kube } from "./testing/kube_client.ts";
import { iso, runningStatus, waitingStatus } from "./testing/pod_status.ts";
import { CollectedEvents } from "./testing/collected_events.ts";

const availability = await kubeBinariesAvailability();
const skipReason = availability.available ? undefined : availability.reason;
if (skipReason !== undefined) {
  console.log(`k8s_source_test: skipping the kube-apiserver tests: ${skipReason}`);
}

const NAMESPACE = "agents";
const SELECTOR = "app.kubernetes.io/part-of=multi-agent-system";

/** Every event a source emitted, each checked against the validator, and ways to wait for one */
async function withServer(
  body: (server: KubeApiServer, kube: Kube) => Promise<void>,
  extraApiServerArgs: string[] = [],
): Promise<void> {
  const server = await startKubeApiServer({ extraApiServerArgs, log: () => {} });
  const kube = new Kube(server, NAMESPACE);
  try {
    await kube.createNamespace(NAMESPACE);
    await body(server, kube);
  } finally {
    kube.close();
    await server.stop();
  }
}

const AGENT_LABELS = (agent: string) => ({
  "app.kubernetes.io/part-of": "multi-agent-system",
  agent,
});

Deno.test({
  name: "pod lifecycle changes written as a kubelet would become runtime events",
  ignore: skipReason !== undefined,
  fn: () =>
    withServer(async (server, kube) => {
      const seen = new CollectedEvents();
      const source = new K8sSource({
        kubeconfigPath: server.kubeconfigPath,
        namespace: NAMESPACE,
        labelSelector: SELECTOR,
        metricsIntervalMs: 500, // not served here: polling must stop quietly
      });
      await source.start(seen.emit);
      try {
        // A pod that starts, gets ready, is OOM-killed mid-task and comes back.
        await kube.createPod("agent-researcher-0", AGENT_LABELS("researcher"));
        const created = await seen.waitForKind("created", "agent-researcher-0");
        assert.equal(created.agent, "researcher");
        assert.equal(created.namespace, NAMESPACE);
        assert.equal(source.health().ok, true);

        await kube.patchStatus("agent-researcher-0", runningStatus(0));
        await seen.waitForKind("scheduled", "agent-researcher-0");
        await seen.waitForKind("started", "agent-researcher-0");
        await seen.waitForKind("ready", "agent-researcher-0");

        const finishedAt = iso(-1000);
        await kube.patchStatus(
          "agent-researcher-0",
          runningStatus(1, {
            ready: false,
            lastTerminated: {
              exitCode: 137,
              reason: "OOMKilled",
              signal: 9,
              startedAt: iso(-60_000),
              finishedAt,
            },
          }),
        );
        const restarted = await seen.waitForKind("restarted", "agent-researcher-0");
        assert.equal(restarted.reason, "OOMKilled");
        assert.equal(restarted.exit_code, 137);
        assert.equal(restarted.signal, "SIGKILL");
        assert.equal(restarted.restart_count, 1);
        assert.equal(restarted.at, new Date(finishedAt).toISOString().replace(/\.000Z$/, "Z"));
        await seen.waitForKind("not_ready", "agent-researcher-0");

        // A crash-looping pod, a pod whose image cannot be pulled, an unschedulable pod.
        await kube.createPod("agent-writer-0", AGENT_LABELS("writer"));
        await kube.patchStatus("agent-writer-0", waitingStatus("CrashLoopBackOff", 4));
        const loop = await seen.waitForKind("crash_loop", "agent-writer-0");
        assert.equal(loop.agent, "writer");
        assert.equal(loop.reason, "CrashLoopBackOff");
        assert.equal(loop.restart_count, 4);

        await kube.createPod("agent-coder-0", { ...AGENT_LABELS("coder") });
        await kube.patchStatus("agent-coder-0", waitingStatus("ImagePullBackOff", 0));
        await seen.waitForKind("image_pull_backoff", "agent-coder-0");

        // The agent name falls back to app.kubernetes.io/name.
        await kube.createPod("agent-orchestrator-0", {
          "app.kubernetes.io/part-of": "multi-agent-system",
          "app.kubernetes.io/name": "orchestrator",
        });
        await kube.patchStatus("agent-orchestrator-0", {
          phase: "Pending",
          conditions: [{
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/3 nodes are available: 3 Insufficient memory.",
            lastTransitionTime: iso(),
          }],
        });
        const unschedulable = await seen.waitForKind("unschedulable", "agent-orchestrator-0");
        assert.equal(unschedulable.agent, "orchestrator");
        assert.match(unschedulable.message ?? "", /Insufficient memory/);

        // Eviction.
        await kube.patchStatus("agent-coder-0", {
          phase: "Failed",
          reason: "Evicted",
          message: "The node was low on resource: memory.",
        });
        const evicted = await seen.waitForKind("evicted", "agent-coder-0");
        assert.equal(evicted.reason, "Evicted");

        // Warning events: about a selected pod yes, about another pod no.
        await kube.createPod("unrelated-0", { app: "something-else" });
        await kube.createWarning("unrelated-0", "BackOff", "not ours");
        await kube.createWarning(
          "agent-writer-0",
          "BackOff",
          "Back-off restarting failed container",
        );
        const warning = await seen.waitForKind("warning_event", "agent-writer-0");
        assert.equal(warning.reason, "BackOff");
        assert.equal(warning.agent, "writer");
        assert.match(warning.message ?? "", /Back-off restarting/);

        // Deletion.
        await kube.deletePod("agent-researcher-0");
        const deleted = await seen.waitForKind("deleted", "agent-researcher-0");
        assert.equal(deleted.agent, "researcher");

        assert.equal(seen.events.filter((e) => e.process === "unrelated-0").length, 0);
        assert.equal(seen.events.filter((e) => e.kind === "source_error").length, 0);
        assert.equal(seen.events.filter((e) => e.kind === "warning_event").length, 1);
        assert.deepEqual(
          seen.events.filter((e) => e.kind === "restarted").map((e) =>
            `${e.process} ${e.restart_count}`
          ),
          ["agent-researcher-0 1", "agent-writer-0 4"],
          "each restart reported once",
        );
        assert.deepEqual(source.health(), { ok: true });
      } finally {
        await source.stop();
      }
    }),
});

async function kubeconfigVia(server: KubeApiServer, port: number): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(server.kubeconfigPath)) as {
    clusters: { cluster: { server: string } }[];
  };
  for (const entry of config.clusters) entry.cluster.server = `https://127.0.0.1:${port}`;
  const path = await Deno.makeTempFile({ prefix: "kubeconfig-proxy-", suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify(config));
  return path;
}

Deno.test({
  name: "the watch survives a forced 410 and a dropped connection without missing a transition",
  ignore: skipReason !== undefined,
  fn: () =>
    withServer(async (server, kube) => {
      const upstreamPort = Number(new URL(server.url).port);
      const proxy = new CuttableProxy(upstreamPort);
      const kubeconfigPath = await kubeconfigVia(server, proxy.port);
      const seen = new CollectedEvents();
      const logs: string[] = [];
      const source = new K8sSource({
        kubeconfigPath,
        namespace: NAMESPACE,
        labelSelector: SELECTOR,
        metricsIntervalMs: 0,
        backoffMs: 200,
        maxBackoffMs: 1000,
        log: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
      });
      try {
        await kube.createPod("agent-researcher-0", AGENT_LABELS("researcher"));
        await kube.createPod("agent-writer-0", AGENT_LABELS("writer"));
        await kube.patchStatus("agent-researcher-0", runningStatus(1));
        await source.start(seen.emit);
        // Pods that existed before the source started are reported from the first list.
        await seen.waitForKind("created", "agent-writer-0");
        const initial = await seen.waitForKind("restarted", "agent-researcher-0");
        assert.equal(initial.restart_count, 1);
        await kube.patchStatus("agent-writer-0", runningStatus(0));
        await seen.waitForKind("started", "agent-writer-0");

        // 1. Every connection is cut mid-watch; the pod restarts while the source is away.
        proxy.cut();
        await seen.waitForKind("source_error", "");
        assert.equal(source.health().ok, false);
        assert.match(source.health().reason ?? "", /.+/);
        await kube.patchStatus(
          "agent-researcher-0",
          runningStatus(2, { lastTerminated: { exitCode: 1, reason: "Error", finishedAt: iso() } }),
        );
        await new Promise((r) => setTimeout(r, 1500)); // a few failed reconnects
        proxy.resume();
        const second = await seen.waitForKind(
          "restarted",
          "agent-researcher-0",
          (e) => e.restart_count === 2,
        );
        assert.equal(second.reason, "Error");
        assert.equal(second.exit_code, 1);
        assert.equal(
          seen.events.filter((e) => e.kind === "source_error").length,
          1,
          "one source_error for the outage",
        );
        await waitUntil(() => source.health().ok, "the source to be healthy again");

        // 2. Cut again, change things, and make the source resume from a version the server no
        // longer has: it gets 410 Gone, relists, and the diff still reports every transition.
        proxy.cut();
        await waitUntil(
          () => seen.events.filter((e) => e.kind === "source_error").length === 2,
          "a second source_error",
        );
        await kube.patchStatus(
          "agent-researcher-0",
          runningStatus(3, {
            lastTerminated: { exitCode: 137, reason: "OOMKilled", finishedAt: iso() },
          }),
        );
        await kube.deletePod("agent-writer-0");
        await waitForCompaction(kube);
        source.resumePodWatchFrom("1");
        proxy.resume();
        await seen.waitForKind("resynced", "");
        const third = await seen.waitForKind(
          "restarted",
          "agent-researcher-0",
          (e) => e.restart_count === 3,
        );
        assert.equal(third.reason, "OOMKilled");
        await seen.waitForKind("deleted", "agent-writer-0");
        assert.ok(
          logs.some((line) => line.includes("relists") && line.includes("410")),
          `the source says it relisted after a 410:\n${logs.join("\n")}`,
        );
        // Nothing was reported twice across the reconnects and the relist.
        const restarts = seen.events.filter((e) => e.kind === "restarted").map((e) =>
          e.restart_count
        );
        assert.deepEqual(restarts, [1, 2, 3]);
        assert.equal(seen.events.filter((e) => e.kind === "deleted").length, 1);
        await waitUntil(() => source.health().ok, "the source to be healthy again");
      } finally {
        await source.stop();
        await proxy.close();
        await Deno.remove(kubeconfigPath);
      }
    }, [
      // Watches go to etcd (not the watch cache, which keeps its own window) and etcd is
      // compacted every 2 s: a watch from an old resourceVersion then gets 410 Expired.
      "--watch-cache=false",
      "--etcd-compaction-interval=2s",
    ]),
});

Deno.test({
  name: "stop ends the open watches at once, also once their responses were garbage-collected",
  ignore: skipReason !== undefined,
  fn: () =>
    withServer(async (server) => {
      // A child process, for --expose-gc: Deno's fetch forgets its signal once the Response is
      // collected, and a stop then waited for the server to end the watch.
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "--v8-flags=--expose-gc",
          new URL("./testdata/k8s_stop_after_gc.ts", import.meta.url).pathname,
          server.kubeconfigPath,
          NAMESPACE,
        ],
        env: { KUBE_URL: server.url, KUBE_TOKEN: server.token, KUBE_CA_PEM: server.caCertPem },
        stdin: "null",
      }).output();
      const stdout = new TextDecoder().decode(child.stdout);
      const stderr = new TextDecoder().decode(child.stderr);
      assert.equal(child.code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
      assert.equal(stdout, "stopped\n");
    }),
});

/** Waits until etcd no longer has revision 1 (a read of exactly that version is 410 Gone) */
async function waitForCompaction(kube: Kube): Promise<void> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    const status = await kube.status(
      `/api/v1/namespaces/${NAMESPACE}/pods?resourceVersion=1&resourceVersionMatch=Exact`,
    );
    if (status === 410) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("etcd was not compacted within 20 s");
}

async function waitUntil(test: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name: "a pod OOM-killed in the second a task came yields a restart event naming that task",
  ignore: skipReason !== undefined,
  fn: () =>
    withServer(async (server, kube) => {
      const bed = await TestBed.create(["researcher", "orchestrator"], 1);
      const config = bed.config();
      const kafka = new KafkaAdapter({
        brokers: config.brokers,
        clientId: "k8s-join",
        log: "nothing",
      });
      const observer = await Observer.open(config, kafka);
      observer.processSource = new K8sSource({
        kubeconfigPath: server.kubeconfigPath,
        namespace: NAMESPACE,
        labelSelector: SELECTOR,
        metricsIntervalMs: 0,
      });
      observer.start();
      try {
        await kube.createPod("agent-researcher-7", AGENT_LABELS("researcher"));
        await kube.patchStatus("agent-researcher-7", runningStatus(0));
        const task = createEnvelope({
          type: "TASK",
          source: "orchestrator",
          target: "researcher",
          conversation_id: "conv-oom",
          task_id: "conv-oom.1-researcher",
          deadline: new Date(Date.now() + 120_000),
        });
        await bed.kit.send(bed.topic("researcher"), [{ value: encodeEnvelope(task) }]);
        await waitFor(
          async () =>
            (await bed.diff()).some((r) => r.type === "message" && r.handoff === "started"),
          20_000,
          "the handoff",
        );
        // It dies within the second the task was handed off, and the kubelet writes seconds: its
        // finishedAt reads earlier than the task's created_at (milliseconds), yet the task was in
        // flight.
        const diedAt = task.created_at.replace(/\.\d+Z$/, "Z");
        await kube.patchStatus(
          "agent-researcher-7",
          runningStatus(1, {
            ready: false,
            lastTerminated: {
              exitCode: 137,
              reason: "OOMKilled",
              signal: 9,
              startedAt: iso(-60_000),
              finishedAt: diedAt,
            },
          }),
        );
        let restart: DiffRecord | undefined;
        await waitFor(
          async () => {
            restart = (await bed.diff()).find((r) =>
              r.type === "runtime_event" && r.kind === "restarted"
            );
            return restart !== undefined;
          },
          20_000,
          "the restart event",
        );
        assert.ok(restart?.type === "runtime_event");
        assert.equal(restart.reason, "OOMKilled");
        assert.equal(restart.exit_code, 137);
        assert.equal(restart.process, "agent-researcher-7");
        assert.deepEqual(restart.tasks_in_flight.map((t) => t.task_id), ["conv-oom.1-researcher"]);
        const errors = (await bed.diff()).filter((r) => r.type === "error");
        assert.ok(errors.some((e) => e.type === "error" && e.kind === "oom_killed"));
      } finally {
        await observer.stop();
        await kafka.close();
        await bed.close();
      }
    }),
});
