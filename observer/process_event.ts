/**
 * A change of an agent's pod or local process, whatever runs it: a pod's lifecycle as Kubernetes
 * reports it, or a local process's lifecycle as the supervisor records it. A `ProcessSource`
 * (`process_source.ts`) turns one of them into `RuntimeEvent`s for the observer;
 * `parseRuntimeEvent` narrows one read back from a file.
 *
 * The observer records each as a `runtime_event` record, a persisted name: the types here keep it
 * (`RuntimeEvent`, `RUNTIME_EVENT_KINDS`). "Runtime" there means what runs the agents (a pod or a
 * process), not the agent loop of `agents/runtime.ts`.
 */

import { isRecord } from "@mat/agents/support";

export const RUNTIME_EVENT_KINDS = [
  "created",
  "scheduled",
  "unschedulable",
  "started",
  "ready",
  "not_ready",
  "restarted",
  "crash_loop",
  "image_pull_backoff",
  "evicted",
  "deleted",
  "exited",
  "warning_event",
  "resources",
  "source_error",
  "resynced",
] as const;

export type RuntimeEventKind = typeof RUNTIME_EVENT_KINDS[number];

/** Which source saw it: the Kubernetes pods or the local supervisor's processes */
export type ProcessSourceName = "k8s" | "local";

export interface RuntimeEvent {
  source: ProcessSourceName;
  kind: RuntimeEventKind;
  /** The agent the pod or process runs, null when its labels do not say */
  agent: string | null;
  /** Pod name, or "pid:<n>" for a local process ("" for events about the source itself) */
  process: string;
  namespace?: string;
  /** When it happened (by the kubelet's or the supervisor's own time where it gives one), ISO 8601 */
  at: string;
  restart_count?: number;
  reason?: string;
  exit_code?: number;
  signal?: string;
  message?: string;
  cpu_millicores?: number;
  memory_bytes?: number;
}

const KIND_SET: ReadonlySet<string> = new Set(RUNTIME_EVENT_KINDS);

export function isRuntimeEventKind(value: unknown): value is RuntimeEventKind {
  return typeof value === "string" && KIND_SET.has(value);
}

function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export type ParsedRuntimeEvent = { ok: true; event: RuntimeEvent } | { ok: false; error: string };

/** Narrows a runtime event read back from JSON; the error names the first offending field */
export function parseRuntimeEvent(value: unknown): ParsedRuntimeEvent {
  if (!isRecord(value)) {
    return { ok: false, error: `Runtime event is not an object: ${quote(value)}` };
  }
  const { source, kind, agent, process, at } = value;
  if (source !== "k8s" && source !== "local") {
    return { ok: false, error: `Runtime event source is not "k8s" or "local": ${quote(source)}` };
  }
  if (!isRuntimeEventKind(kind)) {
    return { ok: false, error: `Runtime event kind is unknown: ${quote(kind)}` };
  }
  if (agent !== null && typeof agent !== "string") {
    return { ok: false, error: `Runtime event agent is not a string or null: ${quote(agent)}` };
  }
  if (typeof process !== "string") {
    return { ok: false, error: `Runtime event process is not a string: ${quote(process)}` };
  }
  if (typeof at !== "string" || Number.isNaN(Date.parse(at))) {
    return { ok: false, error: `Runtime event time is not an ISO date: ${quote(at)}` };
  }
  const event: RuntimeEvent = { source, kind, agent, process, at };
  for (const key of ["namespace", "reason", "signal", "message"] as const) {
    const field = value[key];
    if (field === undefined) continue;
    if (typeof field !== "string") {
      return { ok: false, error: `Runtime event ${key} is not a string: ${quote(field)}` };
    }
    event[key] = field;
  }
  for (const key of ["restart_count", "exit_code", "cpu_millicores", "memory_bytes"] as const) {
    const field = value[key];
    if (field === undefined) continue;
    if (typeof field !== "number" || !Number.isFinite(field)) {
      return { ok: false, error: `Runtime event ${key} is not a finite number: ${quote(field)}` };
    }
    event[key] = field;
  }
  return { ok: true, event };
}
