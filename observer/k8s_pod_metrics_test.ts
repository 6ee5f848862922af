import assert from "node:assert/strict";
import { narrowPodMetrics } from "./k8s_pod_metrics.ts";

Deno.test("pod metrics sum their containers' usage, and an item without a name is left out", () => {
  const usage = narrowPodMetrics({
    kind: "PodMetricsList",
    apiVersion: "metrics.k8s.io/v1beta1",
    items: [
      {
        metadata: { name: "agent-coder-0", namespace: "telemetry" },
        timestamp: "2025-01-01T00:00:00Z",
        window: "15s",
        containers: [
          { name: "agent", usage: { cpu: "12345678n", memory: "64Mi" } },
          { name: "sidecar", usage: { cpu: "5m", memory: "1024Ki" } },
        ],
      },
      { metadata: {}, containers: [] },
    ],
  });
  assert.deepEqual(usage, {
    ok: true,
    value: [{
      name: "agent-coder-0",
      at: "2025-01-01T00:00:00Z",
      cpuMillicores: 17.346,
      memoryBytes: 65 * 1024 * 1024,
    }],
  });
  const bad = narrowPodMetrics({ kind: "Status" });
  assert.ok(!bad.ok);
  assert.equal(bad.error, `Pod metrics list has no items: {"kind":"Status"}`);
});
