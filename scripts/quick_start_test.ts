/**
 * The design's Quick Start, word for word, on the development cluster (`deno task cluster up`)
 * with the images built here (`deno task images build`, which imports them into the cluster):
 *
 *   ./scripts/setup.sh
 *   kubectl apply -f k8s/agents-sample.yaml
 *   kubectl -n telemetry port-forward service/telemetry-api 8080:8080
 *   curl http://localhost:8080/health
 *
 * then a request written to the cluster's Kafka (by `deno task submit` in the orchestrator's pod)
 * is answered by the four agent pods. Ollama cannot be pulled here: setup.sh says so and goes on,
 * and the agents answer with the scripted model (LLM_FALLBACK). `kubectl` is the one the project
 * builds, put first on PATH; KUBECONFIG points at the cluster. Root only.
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureKubectl } from "./kube_apiserver.ts";
import { paths } from "./cluster/paths.ts";
import { until } from "../eval/until.ts";
import {
  type MessageRecord,
  type RuntimeEventRecord,
  validateDiffRecord,
} from "../observer/record_format.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

const skipReason = Deno.uid() !== 0 ? "the development cluster and buildah need root" : undefined;
if (skipReason !== undefined) console.log(`quick_start_test: skipping: ${skipReason}`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

function tail(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-2000)}\n--- stderr\n${
    r.stderr.slice(-3000)
  }`;
}

const AGENTS = ["orchestrator", "researcher", "writer", "coder"];

interface PodView {
  metadata: { name: string; deletionTimestamp?: string };
  status?: {
    containerStatuses?: { lastState?: { terminated?: { reason?: string } } }[];
  };
}

/** Waits until the agent's Deployment has rolled out */
async function rolledOut(agent: string, env: Record<string, string>): Promise<void> {
  const ready = await run("kubectl", [
    "-n",
    "telemetry",
    "rollout",
    "status",
    `deployment/agent-${agent}`,
    "--timeout=180s",
  ], env);
  assert.equal(ready.code, 0, `agent ${agent}: ${tail(ready)}`);
}

/** The agent's pods that are not being deleted */
async function podsOf(agent: string, env: Record<string, string>): Promise<PodView[]> {
  const got = await run("kubectl", [
    "-n",
    "telemetry",
    "get",
    "pod",
    "-l",
    `app.kubernetes.io/name=${agent}`,
    "-o",
    "json",
  ], env);
  assert.equal(got.code, 0, tail(got));
  const items: PodView[] = JSON.parse(got.stdout).items;
  return items.filter((p) => p.metadata.deletionTimestamp === undefined);
}

/** `kubectl` arguments that run `deno task submit ARGS` in the orchestrator's pod */
function submitIn(args: string[]): string[] {
  return [
    "-n",
    "telemetry",
    "exec",
    "deployment/agent-orchestrator",
    "--",
    "deno",
    "task",
    "submit",
    ...args,
  ];
}

/** A request written by `deno task submit` in the orchestrator's pod, left waiting */
function request(plan: string, text: string, env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command("kubectl", {
    args: submitIn(["--plan", plan, "--timeout", "900", text]),
    env,
    cwd: REPO_ROOT,
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/**
 * Real failures of the agent pods: the writer's pod deleted while it holds a task, the researcher
 * over its memory limit mid-task (the kernel kills it). The time machine is copied out with the
 * README's `kubectl cp` command, and the oracle names each with kind, agent, pod and task.
 * The requests it leaves waiting go to `requests`, for the caller to end.
 */
async function podFailures(
  env: Record<string, string>,
  requests: Deno.ChildProcess[],
): Promise<void> {
  const id = crypto.randomUUID().slice(0, 8);
  const hold = `HOLD-${id}`;
  const oom = `OOM-${id}`;
  for (
    const [agent, fault] of [
      ["writer", `writer=slow(ms=600000,match=${hold})`],
      ["researcher", `researcher=memory(mb=1024,match=${oom})`],
    ] as const
  ) {
    const set = await run("kubectl", [
      "-n",
      "telemetry",
      "set",
      "env",
      `deployment/agent-${agent}`,
      `AGENT_FAULTS=${fault}`,
    ], env);
    assert.equal(set.code, 0, tail(set));
    await rolledOut(agent, env);
  }
  // The writer's pod, deleted while it holds a task
  const writerPod = await until("one writer pod", async () => {
    const pods = await podsOf("writer", env);
    return pods.length === 1 ? pods[0]?.metadata.name : undefined;
  }, 180_000);
  requests.push(request("writer", `${hold}: summarise consumer lag`, env));
  await until(`the writer (${writerPod}) holding the task`, async () => {
    const logs = await run("kubectl", ["-n", "telemetry", "logs", `pod/${writerPod}`], env);
    return logs.stdout.includes("fault: slowing down") ? true : undefined;
  }, 180_000);
  const deleted = await run("kubectl", ["-n", "telemetry", "delete", "pod", writerPod], env);
  assert.equal(deleted.code, 0, tail(deleted));
  // The researcher, over its memory limit mid-task
  const researcherPod = await until("one researcher pod", async () => {
    const pods = await podsOf("researcher", env);
    return pods.length === 1 ? pods[0]?.metadata.name : undefined;
  }, 180_000);
  requests.push(request("researcher", `${oom}: research consumer lag`, env));
  await until(`the researcher (${researcherPod}) OOM-killed`, async () => {
    const [pod] = await podsOf("researcher", env);
    const reason = pod?.status?.containerStatuses?.[0]?.lastState?.terminated?.reason;
    return reason === "OOMKilled" ? true : undefined;
  }, 180_000);

  // The README's command, word for word, in a directory of its own
  const readme = await Deno.readTextFile(`${REPO_ROOT}/README.md`);
  const copy = /`(kubectl -n telemetry cp [^`]+)`/.exec(readme)?.[1];
  assert.ok(copy !== undefined, "README.md gives the kubectl cp command");
  const dir = await Deno.makeTempDir({ prefix: "quick-start-cp-" });
  const records = async () => {
    await Deno.remove(`${dir}/telemetry_data`, { recursive: true }).catch(() => undefined);
    const cp = await new Deno.Command("sh", { args: ["-c", copy], env, cwd: dir }).output();
    assert.equal(cp.code, 0, new TextDecoder().decode(cp.stderr));
    const text = await Deno.readTextFile(`${dir}/telemetry_data/diff_time_machine.jsonl`);
    // Whole lines only: the observer may be appending the last one
    return text.split("\n").slice(0, -1).map((line) => {
      const parsed = validateDiffRecord(JSON.parse(line));
      assert.ok(parsed.ok, line);
      return parsed.record;
    });
  };
  // The tasks these requests sent, and a death of each pod naming its task (tasks still open from
  // before, on a cluster that ran this test already, are named too)
  const { oomTask, heldTask } = await until(
    "the OOM kill and the deletion, each naming the task it held, in the copied time machine",
    async () => {
      const all = await records();
      const sentTo = (queue: string, marker: string) =>
        new Set(
          all.filter((r): r is MessageRecord =>
            r.type === "message" && r.topic === queue && r.payload_preview.includes(marker)
          ).map((r) => r.task_id),
        );
      const named = (sent: Set<string>, died: (r: RuntimeEventRecord) => boolean) =>
        all.filter((r): r is RuntimeEventRecord => r.type === "runtime_event" && died(r))
          .flatMap((r) => r.tasks_in_flight.map((t) => t.task_id))
          .find((id) => sent.has(id));
      const oomTask = named(
        sentTo("agent-queue-researcher", oom),
        (r) => r.process === researcherPod && r.reason === "OOMKilled",
      );
      const heldTask = named(
        sentTo("agent-queue-writer", hold),
        (r) => r.process === writerPod && r.kind === "deleted",
      );
      return oomTask !== undefined && heldTask !== undefined ? { oomTask, heldTask } : undefined;
    },
    180_000,
  );

  const diagnose = await run(Deno.execPath(), [
    "run",
    "--allow-read",
    "--allow-env",
    "oracle/main.ts",
    "diagnose",
    "-f",
    "json",
    "--data-dir",
    `${dir}/telemetry_data`,
  ], { NO_COLOR: "1" });
  assert.equal(diagnose.code, 0, tail(diagnose));
  const roots: { kind: string; agent: string | null; process: string | null; summary: string }[] =
    JSON.parse(diagnose.stdout).incidents.map((i: { root_cause: unknown }) => i.root_cause);
  const researcher = roots.find((r) => r.agent === "researcher");
  assert.ok(
    researcher !== undefined && /agent_crash_loop|agent_crashed/.test(researcher.kind),
    JSON.stringify(roots),
  );
  assert.equal(researcher.process, researcherPod);
  assert.match(researcher.summary, /OOMKilled/);
  assert.ok(researcher.summary.includes(oomTask), researcher.summary);
  const writer = roots.find((r) => r.agent === "writer");
  assert.equal(writer?.kind, "agent_crashed", JSON.stringify(roots));
  assert.equal(writer.process, writerPod);
  assert.match(writer.summary, /pod deleted/);
  assert.ok(writer.summary.includes(heldTask), writer.summary);
  await Deno.remove(dir, { recursive: true });
}

Deno.test({
  name:
    "the quick start runs word for word on a real cluster, the agent pods answer a request, and an agent pod OOM-killed mid-task or deleted holding a task is diagnosed from the copied time machine",
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const deno = Deno.execPath();
    const status = await run(deno, ["run", "--allow-all", "scripts/cluster.ts", "status"]);
    const broughtUp = status.code !== 0;
    if (broughtUp) {
      const up = await run(deno, ["run", "--allow-all", "scripts/cluster.ts", "up"]);
      assert.equal(up.code, 0, `cluster up: ${tail(up)}`);
    }
    const kubectl = await ensureKubectl();
    const env = {
      KUBECONFIG: paths.kubeconfig,
      PATH: `${dirname(kubectl)}:${Deno.env.get("PATH") ?? ""}`,
    };
    let forward: Deno.ChildProcess | undefined;
    const requests: Deno.ChildProcess[] = [];
    try {
      const images = await run(deno, ["run", "--allow-all", "scripts/images.ts", "build"]);
      assert.equal(images.code, 0, `images build: ${tail(images)}`);
      // The quick start begins on a cluster without it: a namespace left by an earlier run goes
      const fresh = await run("kubectl", [
        "delete",
        "namespace",
        "telemetry",
        "--ignore-not-found",
        "--wait=true",
        "--timeout=300s",
      ], env);
      assert.equal(fresh.code, 0, `delete namespace: ${tail(fresh)}`);
      // `up` again (idempotent) empties the volumes the deleted claims released, for reuse
      const reuse = await run(deno, ["run", "--allow-all", "scripts/cluster.ts", "up"]);
      assert.equal(reuse.code, 0, `cluster up: ${tail(reuse)}`);

      // 1. ./scripts/setup.sh
      const setup = await run("./scripts/setup.sh", [], env);
      assert.equal(setup.code, 0, `setup.sh: ${tail(setup)}`);
      // 2. kubectl apply -f k8s/agents-sample.yaml
      const apply = await run("kubectl", ["apply", "-f", "k8s/agents-sample.yaml"], env);
      assert.equal(apply.code, 0, `apply: ${tail(apply)}`);
      for (const agent of AGENTS) {
        await rolledOut(agent, env);
      }
      // 3. kubectl -n telemetry port-forward service/telemetry-api 8080:8080
      forward = new Deno.Command("kubectl", {
        args: ["-n", "telemetry", "port-forward", "service/telemetry-api", "8080:8080"],
        env,
        cwd: REPO_ROOT,
        stdout: "null",
        stderr: "null",
      }).spawn();
      // 4. curl http://localhost:8080/health
      let health = 0;
      for (let i = 0; i < 60 && health !== 200; i++) {
        health = await fetch("http://localhost:8080/health").then(
          async (r) => (await r.body?.cancel(), r.status),
          () => 0,
        );
        if (health !== 200) await new Promise((r) => setTimeout(r, 1_000));
      }
      assert.equal(health, 200, "curl http://localhost:8080/health");
      // Every other path needs the token setup.sh made
      const denied = await fetch("http://localhost:8080/state");
      await denied.body?.cancel();
      assert.equal(denied.status, 401);

      // A request through the cluster's Kafka, answered by the four agent pods
      const submit = await run(
        "kubectl",
        submitIn([
          "--timeout",
          "120",
          "--json",
          "Explain consumer lag and write a function that computes it",
        ]),
        env,
      );
      assert.equal(submit.code, 0, `submit: ${tail(submit)}`);
      const answer = JSON.parse(submit.stdout.slice(submit.stdout.indexOf("{")));
      assert.equal(answer.type, "RESULT", submit.stdout);

      await podFailures(env, requests);
    } finally {
      for (const r of requests) {
        r.kill("SIGKILL");
        await r.status;
      }
      forward?.kill("SIGTERM");
      await forward?.status;
      if (broughtUp) {
        const down = await run(deno, ["run", "--allow-all", "scripts/cluster.ts", "down"]);
        assert.equal(down.code, 0, `cluster down: ${tail(down)}`);
      } else {
        await run("kubectl", ["delete", "-f", "k8s/agents-sample.yaml", "--wait=false"], env);
      }
    }
  },
});
