/**
 * The manifests in k8s/ against a real kube-apiserver (scripts/kube_apiserver.ts): a server-side
 * dry run validates every object with the API server's own schemas and admission, and a pod's
 * status is written the way a kubelet would, which is how observer tests can fake pod states.
 *
 * Build the binaries first (`deno run -A scripts/kube_apiserver.ts build`, minutes when cold);
 * a test that finds them missing builds them itself. The tests are skipped only where they
 * cannot be built: no Go toolchain and nothing cached.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type KubeApiServer,
  kubeBinariesAvailability,
  startKubeApiServer,
} from "./kube_apiserver.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const DEPLOYMENT = join(REPO_ROOT, "k8s", "deployment.yaml");
const AGENTS_SAMPLE = join(REPO_ROOT, "k8s", "agents-sample.yaml");

const availability = await kubeBinariesAvailability();
const skipReason = availability.available ? undefined : availability.reason;
if (skipReason !== undefined) {
  console.log(`kube_manifests_test: skipping the kube-apiserver tests: ${skipReason}`);
}

/** Every object each manifest must define, as `kubectl -o name` prints them */
const DEPLOYMENT_OBJECTS = [
  "namespace/telemetry",
  "serviceaccount/telemetry-observer",
  "role.rbac.authorization.k8s.io/telemetry-observer",
  "rolebinding.rbac.authorization.k8s.io/telemetry-observer",
  "service/kafka",
  "statefulset.apps/kafka",
  "job.batch/kafka-create-topics",
  "persistentvolumeclaim/ollama-models",
  "service/ollama",
  "deployment.apps/ollama",
  "persistentvolumeclaim/telemetry-data",
  "service/telemetry-api",
  "networkpolicy.networking.k8s.io/telemetry-api",
  "deployment.apps/telemetry-observer",
];
const AGENT_OBJECTS = ["orchestrator", "researcher", "writer", "coder"].map((agent) =>
  `deployment.apps/agent-${agent}`
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function kubectl(server: KubeApiServer, args: string[], stdin?: string): Promise<Run> {
  const child = new Deno.Command(server.kubectl, {
    args: [`--kubeconfig=${server.kubeconfigPath}`, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function describe(run: Run): string {
  return `exit code ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

/** The number of YAML documents in `path` that define an object */
async function objectCount(path: string): Promise<number> {
  return (await Deno.readTextFile(path)).split(/^---$/m)
    .filter((doc) => /^kind:\s*\S/m.test(doc)).length;
}

async function withServer(body: (server: KubeApiServer) => Promise<void>): Promise<void> {
  const server = await startKubeApiServer();
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

Deno.test({
  name: "k8s manifests pass a server-side dry run against a real kube-apiserver",
  ignore: skipReason !== undefined,

  fn: () =>
    withServer(async (server) => {
      const namespace = await kubectl(server, ["create", "namespace", "telemetry"]);
      assert.equal(namespace.code, 0, describe(namespace));

      for (
        const [file, expected] of [
          [DEPLOYMENT, DEPLOYMENT_OBJECTS],
          [AGENTS_SAMPLE, AGENT_OBJECTS],
        ] as const
      ) {
        assert.equal(
          await objectCount(file),
          expected.length,
          `"${file}" defines a different number of objects than the test expects`,
        );
        const run = await kubectl(server, ["apply", "--dry-run=server", "-o", "name", "-f", file]);
        assert.equal(run.code, 0, `kubectl apply --dry-run=server -f ${file}: ${describe(run)}`);
        const names = run.stdout.split("\n").map((line) => line.trim()).filter((l) => l !== "");
        assert.deepEqual([...names].sort(), [...expected].sort(), describe(run));
      }

      // A dry run creates nothing: only the namespace made above exists.
      const deployments = await kubectl(server, [
        "-n",
        "telemetry",
        "get",
        "deployments",
        "-o",
        "name",
      ]);
      assert.equal(deployments.code, 0, describe(deployments));
      assert.equal(deployments.stdout.trim(), "", describe(deployments));
    }),
});

Deno.test({
  name: "a test can write a pod's status as a kubelet would and read it back",
  ignore: skipReason !== undefined,

  fn: () =>
    withServer(async (server) => {
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: "agent-researcher-0",
          namespace: "default",
          labels: { "app.kubernetes.io/part-of": "multi-agent-system", agent: "researcher" },
        },
        spec: {
          containers: [{ name: "agent", image: "multi-agent-telemetry:dev" }],
        },
      };
      const created = await kubectl(
        server,
        ["create", "-f", "-", "-o", "json"],
        JSON.stringify(pod),
      );
      assert.equal(created.code, 0, describe(created));

      // No scheduler or kubelet runs: the status is whatever a test writes to the subresource.
      const client = Deno.createHttpClient({ caCerts: [server.caCertPem] });
      try {
        const podUrl = `${server.url}/api/v1/namespaces/default/pods/agent-researcher-0`;
        const headers = {
          Authorization: `Bearer ${server.token}`,
          "Content-Type": "application/merge-patch+json",
        };
        const now = new Date();
        const startedAt = new Date(now.getTime() - 60_000).toISOString().replace(/\.\d+Z$/, "Z");
        const finishedAt = new Date(now.getTime() - 5_000).toISOString().replace(/\.\d+Z$/, "Z");
        const restartedAt = now.toISOString().replace(/\.\d+Z$/, "Z");
        const status = {
          status: {
            phase: "Running",
            conditions: [{ type: "Ready", status: "True", lastTransitionTime: restartedAt }],
            containerStatuses: [{
              name: "agent",
              image: "multi-agent-telemetry:dev",
              imageID: "",
              ready: true,
              started: true,
              restartCount: 1,
              state: { running: { startedAt: restartedAt } },
              lastState: {
                terminated: { exitCode: 137, reason: "OOMKilled", startedAt, finishedAt },
              },
            }],
          },
        };
        const patched = await fetch(`${podUrl}/status`, {
          method: "PATCH",
          headers,
          body: JSON.stringify(status),
          client,
        });
        const patchBody = await patched.text();
        assert.equal(patched.status, 200, `PATCH ${podUrl}/status: ${patchBody}`);

        const read = await fetch(podUrl, {
          headers: { Authorization: headers.Authorization },
          client,
        });
        assert.equal(read.status, 200);
        const body: unknown = await read.json();
        assert.ok(typeof body === "object" && body !== null, "the pod is a JSON object");
        const readStatus = (body as { status?: { phase?: unknown; containerStatuses?: unknown } })
          .status;
        assert.equal(readStatus?.phase, "Running");
        assert.ok(Array.isArray(readStatus?.containerStatuses), "containerStatuses is an array");
        const [container] = readStatus.containerStatuses as Record<string, unknown>[];
        assert.equal(container?.restartCount, 1);
        assert.deepEqual(container?.lastState, status.status.containerStatuses[0]?.lastState);

        // kubectl sees the same status, and a label selector finds the pod as the observer would.
        const listed = await kubectl(server, [
          "get",
          "pods",
          "-l",
          "app.kubernetes.io/part-of=multi-agent-system",
          "-o",
          "jsonpath={.items[0].status.containerStatuses[0].lastState.terminated.reason}",
        ]);
        assert.equal(listed.code, 0, describe(listed));
        assert.equal(listed.stdout, "OOMKilled");
      } finally {
        client.close();
      }
    }),
});

Deno.test({
  name: "setup.sh makes the observer's API token once, and the observer reads it from the Secret",
  ignore: skipReason !== undefined,

  fn: () =>
    withServer(async (server) => {
      // Against an API server with no kubelet nothing becomes ready: the script applies the
      // manifests, then fails waiting for Kafka after a second, which is all this test needs.
      const setup = async () => {
        const out = await new Deno.Command("bash", {
          args: [join(REPO_ROOT, "scripts", "setup.sh")],
          env: {
            KUBECTL: server.kubectl,
            KUBECONFIG: server.kubeconfigPath,
            TIMEOUT: "1",
            OLLAMA_TIMEOUT: "0",
          },
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
      };
      const token = async () => {
        const run = await kubectl(server, [
          "-n",
          "telemetry",
          "get",
          "secret",
          "telemetry-observer-token",
          "-o",
          "jsonpath={.data.token}",
        ]);
        assert.equal(run.code, 0, describe(run));
        return atob(run.stdout);
      };
      const first = await setup();
      assert.match(first.stderr, /created the observer's API token/, first.stderr);
      assert.match(first.stderr, /waiting for Kafka/, first.stderr);
      const made = await token();
      assert.match(made, /^[0-9a-f]{64}$/);
      const second = await setup();
      assert.match(second.stderr, /keeping the observer's API token/, second.stderr);
      assert.equal(await token(), made, "a second run keeps the token");
      const env = await kubectl(server, [
        "-n",
        "telemetry",
        "get",
        "deployment",
        "telemetry-observer",
        "-o",
        'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="OBSERVER_TOKEN")].valueFrom.secretKeyRef.name}',
      ]);
      assert.equal(env.stdout, "telemetry-observer-token", describe(env));
    }),
});
