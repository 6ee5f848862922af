/**
 * Test helper: pod statuses as a kubelet writes them (times to the second), for tests that play
 * the kubelet against a real kube-apiserver.
 */

/** Now plus `offsetMs`, to the second, as a kubelet writes times */
export function iso(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString().replace(/\.\d+Z$/, "Z");
}

/** A running pod's status: scheduled, its one container running (restarted `restartCount` times) */
export function runningStatus(
  restartCount: number,
  options: { ready?: boolean; lastTerminated?: Record<string, unknown>; startedAt?: string } = {},
): Record<string, unknown> {
  const ready = options.ready ?? true;
  return {
    phase: "Running",
    conditions: [
      { type: "PodScheduled", status: "True", lastTransitionTime: iso(-60_000) },
      { type: "Ready", status: ready ? "True" : "False", lastTransitionTime: iso() },
    ],
    containerStatuses: [{
      name: "agent",
      image: "multi-agent-telemetry:dev",
      imageID: "",
      ready,
      started: true,
      restartCount,
      state: { running: { startedAt: options.startedAt ?? iso() } },
      ...(options.lastTerminated ? { lastState: { terminated: options.lastTerminated } } : {}),
    }],
  };
}

/** A pending pod's status: its one container waiting for `reason` (CrashLoopBackOff, say) */
export function waitingStatus(reason: string, restartCount: number): Record<string, unknown> {
  return {
    phase: "Pending",
    conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: iso() }],
    containerStatuses: [{
      name: "agent",
      image: "multi-agent-telemetry:dev",
      imageID: "",
      ready: false,
      restartCount,
      state: { waiting: { reason, message: `back-off restarting failed container (${reason})` } },
    }],
  };
}
