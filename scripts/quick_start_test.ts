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

Deno.test({
  name: "the quick start runs word for word on a real cluster, and the agent pods answer a request",
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
    try {
      const images = await run(deno, ["run", "--allow-all", "scripts/images.ts", "build"]);
      assert.equal(images.code, 0, `images build: ${tail(images)}`);

      // 1. ./scripts/setup.sh
      const setup = await run("./scripts/setup.sh", [], env);
      assert.equal(setup.code, 0, `setup.sh: ${tail(setup)}`);
      // 2. kubectl apply -f k8s/agents-sample.yaml
      const apply = await run("kubectl", ["apply", "-f", "k8s/agents-sample.yaml"], env);
      assert.equal(apply.code, 0, `apply: ${tail(apply)}`);
      for (const agent of AGENTS) {
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
      const submit = await run("kubectl", [
        "-n",
        "telemetry",
        "exec",
        "deployment/agent-orchestrator",
        "--",
        "deno",
        "task",
        "submit",
        "--timeout",
        "120",
        "--json",
        "Explain consumer lag and write a function that computes it",
      ], env);
      assert.equal(submit.code, 0, `submit: ${tail(submit)}`);
      const answer = JSON.parse(submit.stdout.slice(submit.stdout.indexOf("{")));
      assert.equal(answer.type, "RESULT", submit.stdout);
    } finally {
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
