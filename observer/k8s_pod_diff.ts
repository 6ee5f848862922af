/**
 * From two versions of a pod to the runtime events (`process_event.ts`) between them: created,
 * scheduled or unschedulable, a container started, restarted (with its last termination: reason,
 * exit code, signal), crash-looping, unable to pull its image, exited; ready or not; evicted. The
 * Kubernetes source diffs each version a watch brings against the last one it saw, so a change
 * missed while disconnected is still reported once it relists.
 */

import type { ConditionView, PodView } from "./k8s_objects.ts";
import type { RuntimeEvent, RuntimeEventKind } from "./process_event.ts";

const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
};

function signalName(signal: number): string {
  return SIGNALS[signal] ?? `signal ${signal}`;
}

const IMAGE_PULL_REASONS: ReadonlySet<string> = new Set(["ImagePullBackOff", "ErrImagePull"]);

function condition(pod: PodView | undefined, type: string): ConditionView | undefined {
  return pod?.conditions.find((c) => c.type === type);
}

export type PodEvent = Omit<RuntimeEvent, "source" | "agent" | "process" | "namespace">;

/**
 * What changed from `before` (undefined: a pod not seen yet) to `after` (the same pod), as
 * runtime events without the fields every event of the pod shares. `now` dates the changes the
 * pod itself gives no time for.
 */
export function diffPod(before: PodView | undefined, after: PodView, now: string): PodEvent[] {
  const out: PodEvent[] = [];
  const push = (kind: RuntimeEventKind, at: string | undefined, extra: Partial<PodEvent> = {}) =>
    out.push({ kind, at: at ?? now, ...extra });

  if (before === undefined) push("created", after.createdAt);

  const scheduledBefore = condition(before, "PodScheduled");
  const scheduled = condition(after, "PodScheduled");
  if (scheduled?.status === "True" && scheduledBefore?.status !== "True") {
    push("scheduled", scheduled.lastTransitionTime);
  } else if (
    scheduled?.status === "False" && scheduled.reason === "Unschedulable" &&
    (scheduledBefore?.status !== "False" || scheduledBefore.reason !== "Unschedulable")
  ) {
    push("unschedulable", scheduled.lastTransitionTime, {
      reason: "Unschedulable",
      ...(scheduled.message !== undefined ? { message: scheduled.message } : {}),
    });
  }

  for (const container of after.containers) {
    const old = before?.containers.find((c) => c.name === container.name);
    const restarts = container.restartCount;
    const oldRestarts = old?.restartCount ?? 0;
    if (restarts > oldRestarts) {
      const last = container.lastTerminated;
      push("restarted", last?.finishedAt, {
        restart_count: restarts,
        ...(last?.reason !== undefined ? { reason: last.reason } : {}),
        ...(last !== undefined ? { exit_code: last.exitCode } : {}),
        ...(last?.signal !== undefined ? { signal: signalName(last.signal) } : {}),
        message:
          `container "${container.name}" restarted (restart count ${oldRestarts} -> ${restarts})` +
          (last?.message ? `: ${last.message}` : ""),
      });
    }
    const state = container.state;
    const oldState = old?.state;
    if (state.kind === "running") {
      const wasSame = oldState?.kind === "running" && oldState.startedAt === state.startedAt;
      if (!wasSame) {
        push("started", state.startedAt, {
          restart_count: restarts,
          message: `container "${container.name}" running`,
        });
      }
    } else if (state.kind === "waiting" && state.reason !== undefined) {
      const oldReason = oldState?.kind === "waiting" ? oldState.reason : undefined;
      const extra = {
        reason: state.reason,
        restart_count: restarts,
        message: `container "${container.name}" waiting: ${state.reason}` +
          (state.message ? `: ${state.message}` : ""),
      };
      if (state.reason === "CrashLoopBackOff" && oldReason !== "CrashLoopBackOff") {
        push("crash_loop", undefined, extra);
      } else if (
        IMAGE_PULL_REASONS.has(state.reason) &&
        (oldReason === undefined || !IMAGE_PULL_REASONS.has(oldReason))
      ) {
        push("image_pull_backoff", undefined, extra);
      }
    } else if (state.kind === "terminated") {
      const wasSame = oldState?.kind === "terminated" && oldState.finishedAt === state.finishedAt &&
        oldState.exitCode === state.exitCode;
      if (!wasSame) {
        push("exited", state.finishedAt, {
          exit_code: state.exitCode,
          restart_count: restarts,
          ...(state.reason !== undefined ? { reason: state.reason } : {}),
          ...(state.signal !== undefined ? { signal: signalName(state.signal) } : {}),
          message: `container "${container.name}" terminated` +
            (state.message ? `: ${state.message}` : ""),
        });
      }
    }
  }

  const readyBefore = condition(before, "Ready");
  const ready = condition(after, "Ready");
  if (ready?.status === "True" && readyBefore?.status !== "True") {
    push("ready", ready.lastTransitionTime);
  } else if (ready !== undefined && ready.status !== "True" && readyBefore?.status === "True") {
    push("not_ready", ready.lastTransitionTime, {
      ...(ready.reason !== undefined ? { reason: ready.reason } : {}),
      ...(ready.message !== undefined ? { message: ready.message } : {}),
    });
  }

  const evicted = after.phase === "Failed" && after.reason === "Evicted";
  if (evicted && !(before?.phase === "Failed" && before.reason === "Evicted")) {
    push("evicted", undefined, {
      reason: "Evicted",
      ...(after.message !== undefined ? { message: after.message } : {}),
    });
  }
  return out;
}
