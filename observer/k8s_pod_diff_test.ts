import assert from "node:assert/strict";
import { narrowPod } from "./k8s_objects.ts";
import { diffPod } from "./k8s_pod_diff.ts";

Deno.test("a pod seen for the first time yields the transitions it went through, the same version again none", () => {
  const pod = narrowPod({
    metadata: {
      name: "p",
      namespace: "ns",
      uid: "u1",
      resourceVersion: "7",
      labels: { agent: "coder" },
    },
    status: {
      phase: "Running",
      containerStatuses: [{
        name: "agent",
        restartCount: 2,
        ready: true,
        state: { waiting: { reason: "ErrImagePull" } },
      }],
    },
  });
  assert.ok(pod.ok);
  const kinds = diffPod(undefined, pod.value, "2025-01-01T00:00:00.000Z").map((e) => e.kind);
  assert.deepEqual(kinds, ["created", "restarted", "image_pull_backoff"]);
  assert.deepEqual(diffPod(pod.value, pod.value, "2025-01-01T00:00:00.000Z"), []);
});
