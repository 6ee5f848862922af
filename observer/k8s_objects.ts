/**
 * Our own small view of the Kubernetes objects the source reads (a Pod, an Event, a list of
 * either) and the validators that narrow them from the API server's JSON. A field the source does
 * not need is not kept; a field it needs but cannot read makes the object skipped, with an error
 * that says which and quotes it.
 */

import { copyStrings, type Json, type Narrowed, num, quote, rec, str } from "./k8s_json.ts";
import { isRecord } from "@mat/agents/support";

export interface TerminatedState {
  exitCode: number;
  reason?: string;
  message?: string;
  signal?: number;
  startedAt?: string;
  finishedAt?: string;
}

export type ContainerState =
  | { kind: "waiting"; reason?: string; message?: string }
  | { kind: "running"; startedAt?: string }
  | ({ kind: "terminated" } & TerminatedState)
  | { kind: "unknown" };

export interface ContainerView {
  name: string;
  restartCount: number;
  ready: boolean;
  state: ContainerState;
  lastTerminated?: TerminatedState;
}

export interface ConditionView {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface PodView {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  labels: Record<string, string>;
  createdAt?: string;
  deletedAt?: string;
  phase?: string;
  reason?: string;
  message?: string;
  conditions: ConditionView[];
  containers: ContainerView[];
}

export interface EventView {
  uid: string;
  resourceVersion: string;
  type: string;
  reason?: string;
  message?: string;
  involvedKind: string;
  involvedName: string;
  involvedNamespace?: string;
  count: number;
  at?: string;
}

function narrowTerminated(value: Json): TerminatedState {
  const out: TerminatedState = { exitCode: num(value, "exitCode") ?? 0 };
  copyStrings(out, value, ["reason", "message", "startedAt", "finishedAt"] as const);
  const signal = num(value, "signal");
  if (signal !== undefined) out.signal = signal;
  return out;
}

function narrowState(value: Json | undefined): ContainerState {
  if (value === undefined) return { kind: "unknown" };
  const waiting = rec(value, "waiting");
  if (waiting) {
    const out: ContainerState = { kind: "waiting" };
    copyStrings(out, waiting, ["reason", "message"] as const);
    return out;
  }
  const running = rec(value, "running");
  if (running) {
    const out: ContainerState = { kind: "running" };
    copyStrings(out, running, ["startedAt"] as const);
    return out;
  }
  const terminated = rec(value, "terminated");
  if (terminated) return { kind: "terminated", ...narrowTerminated(terminated) };
  return { kind: "unknown" };
}

function narrowContainer(value: unknown, index: number): Narrowed<ContainerView> {
  if (!isRecord(value)) {
    return { ok: false, error: `Container status ${index} is not an object: ${quote(value)}` };
  }
  const name = str(value, "name");
  if (name === undefined) {
    return { ok: false, error: `Container status ${index} has no name: ${quote(value["name"])}` };
  }
  const out: ContainerView = {
    name,
    restartCount: num(value, "restartCount") ?? 0,
    ready: value["ready"] === true,
    state: narrowState(rec(value, "state")),
  };
  const last = rec(value, "lastState");
  const lastTerminated = last ? rec(last, "terminated") : undefined;
  if (lastTerminated) out.lastTerminated = narrowTerminated(lastTerminated);
  return { ok: true, value: out };
}

function narrowCondition(value: unknown): ConditionView | undefined {
  if (!isRecord(value)) return undefined;
  const type = str(value, "type");
  const status = str(value, "status");
  if (type === undefined || status === undefined) return undefined;
  const out: ConditionView = { type, status };
  copyStrings(out, value, ["reason", "message", "lastTransitionTime"] as const);
  return out;
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(value)) return out;
  for (const [key, item] of Object.entries(value)) if (typeof item === "string") out[key] = item;
  return out;
}

/** Narrows a core/v1 Pod as the API server sends it into a PodView */
export function narrowPod(value: unknown): Narrowed<PodView> {
  if (!isRecord(value)) return { ok: false, error: `Pod is not an object: ${quote(value)}` };
  const metadata = rec(value, "metadata");
  if (metadata === undefined) {
    return { ok: false, error: `Pod has no metadata: ${quote(value["metadata"])}` };
  }
  const name = str(metadata, "name");
  const uid = str(metadata, "uid");
  const resourceVersion = str(metadata, "resourceVersion");
  if (name === undefined || uid === undefined || resourceVersion === undefined) {
    return {
      ok: false,
      error: `Pod metadata lacks name, uid or resourceVersion: ${quote(metadata)}`,
    };
  }
  const pod: PodView = {
    name,
    namespace: str(metadata, "namespace") ?? "",
    uid,
    resourceVersion,
    labels: stringMap(metadata["labels"]),
    conditions: [],
    containers: [],
  };
  const createdAt = str(metadata, "creationTimestamp");
  if (createdAt !== undefined) pod.createdAt = createdAt;
  const deletedAt = str(metadata, "deletionTimestamp");
  if (deletedAt !== undefined) pod.deletedAt = deletedAt;
  const status = rec(value, "status") ?? {};
  copyStrings(pod, status, ["phase", "reason", "message"] as const);
  const conditions = status["conditions"];
  if (Array.isArray(conditions)) {
    for (const item of conditions) {
      const condition = narrowCondition(item);
      if (condition) pod.conditions.push(condition);
    }
  }
  const containers = status["containerStatuses"];
  if (containers !== undefined && !Array.isArray(containers)) {
    return {
      ok: false,
      error: `Pod "${name}" containerStatuses is not a list: ${quote(containers)}`,
    };
  }
  for (const [index, item] of (containers ?? []).entries()) {
    const container = narrowContainer(item, index);
    if (!container.ok) return { ok: false, error: `Pod "${name}": ${container.error}` };
    pod.containers.push(container.value);
  }
  return { ok: true, value: pod };
}

/** Narrows a core/v1 Event into an EventView */
export function narrowEvent(value: unknown): Narrowed<EventView> {
  if (!isRecord(value)) return { ok: false, error: `Event is not an object: ${quote(value)}` };
  const metadata = rec(value, "metadata");
  const involved = rec(value, "involvedObject");
  const uid = metadata ? str(metadata, "uid") : undefined;
  const resourceVersion = metadata ? str(metadata, "resourceVersion") : undefined;
  if (metadata === undefined || uid === undefined || resourceVersion === undefined) {
    return { ok: false, error: `Event metadata lacks uid or resourceVersion: ${quote(metadata)}` };
  }
  const involvedKind = involved ? str(involved, "kind") : undefined;
  const involvedName = involved ? str(involved, "name") : undefined;
  if (involved === undefined || involvedKind === undefined || involvedName === undefined) {
    return { ok: false, error: `Event involvedObject lacks kind or name: ${quote(involved)}` };
  }
  const out: EventView = {
    uid,
    resourceVersion,
    type: str(value, "type") ?? "Normal",
    involvedKind,
    involvedName,
    count: num(value, "count") ?? 1,
  };
  copyStrings(out, value, ["reason", "message"] as const);
  const involvedNamespace = str(involved, "namespace");
  if (involvedNamespace !== undefined) out.involvedNamespace = involvedNamespace;
  const series = rec(value, "series");
  const at = str(value, "lastTimestamp") ??
    (series ? str(series, "lastObservedTime") : undefined) ??
    str(value, "eventTime") ?? str(value, "firstTimestamp") ?? str(metadata, "creationTimestamp");
  if (at !== undefined) out.at = at;
  if (series && num(series, "count") !== undefined) {
    out.count = Math.max(out.count, num(series, "count") ?? 0);
  }
  return { ok: true, value: out };
}

export interface ListView<T> {
  resourceVersion: string;
  items: T[];
  /** Errors of the items that did not narrow (skipped) */
  skipped: string[];
}

export function narrowList<T>(
  value: unknown,
  narrow: (v: unknown) => Narrowed<T>,
): Narrowed<ListView<T>> {
  if (!isRecord(value)) return { ok: false, error: `List is not an object: ${quote(value)}` };
  const metadata = rec(value, "metadata");
  const resourceVersion = metadata ? str(metadata, "resourceVersion") : undefined;
  if (resourceVersion === undefined) {
    return { ok: false, error: `List has no resourceVersion: ${quote(metadata)}` };
  }
  const items = value["items"];
  if (items !== null && items !== undefined && !Array.isArray(items)) {
    return { ok: false, error: `List items is not a list: ${quote(items)}` };
  }
  const out: ListView<T> = { resourceVersion, items: [], skipped: [] };
  for (const item of items ?? []) {
    const narrowed = narrow(item);
    if (narrowed.ok) out.items.push(narrowed.value);
    else out.skipped.push(narrowed.error);
  }
  return { ok: true, value: out };
}

/**
 * Whether resourceVersion `next` is later than `known`. Versions are opaque to clients, but the
 * API server's are etcd revisions (decimal integers); anything else counts as newer.
 */
export function isNewer(next: string, known: string): boolean {
  if (!/^\d+$/.test(next) || !/^\d+$/.test(known)) return next !== known;
  return BigInt(next) > BigInt(known);
}
