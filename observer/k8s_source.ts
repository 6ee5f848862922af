/**
 * The Kubernetes process source: lists, then watches, the agents' pods in one namespace (a label
 * selector picks them) and the `Warning` Events about them, and turns each change of a pod into
 * runtime events (`process_event.ts`) by diffing the last version it saw against the new one.
 *
 * Its parts, each in its own file:
 * - `k8s_objects.ts`: our own small view of a Pod, an Event and a list, and the validators that
 *   narrow them from `unknown` (one object that does not narrow is skipped and logged);
 * - `k8s_pod_diff.ts`: from two versions of a pod to the events between them;
 * - `k8s_list_watch.ts`: the list-then-watch loop per resource: resume from the last
 *   resourceVersion or bookmark, relist on 410 Gone (the relist is diffed against what it knew, so
 *   a pod that restarted or went away while it was not looking still yields `restarted` or
 *   `deleted`, then `resynced`), retry with backoff;
 * - `k8s_watch_stream.ts` and `k8s_api_connection.ts`: one watch request as a stream of events,
 *   and the connection to the API server (the only importer of @kubernetes/client-node);
 * - `k8s_pod_metrics.ts`: pod metrics (`metrics.k8s.io/v1beta1`), polled while served.
 *
 * A failed request or a dropped connection is retried; `source_error` is emitted once per outage
 * and `health()` says why.
 */

import { ApiConnection, type ApiConnectionOptions } from "./k8s_api_connection.ts";
import { ListWatch, type ListWatchTimings, type LoopReport } from "./k8s_list_watch.ts";
import { type EventView, isNewer, narrowEvent, narrowPod, type PodView } from "./k8s_objects.ts";
import { diffPod, type PodEvent } from "./k8s_pod_diff.ts";
import { type PodUsage, pollPodMetrics } from "./k8s_pod_metrics.ts";
import type { RuntimeEvent } from "./process_event.ts";
import type { LogFn, ProcessSource } from "./process_source.ts";
import { errorText } from "@mat/agents/support";

export interface K8sSourceOptions extends ApiConnectionOptions, ListWatchTimings {
  /** Namespace of the agents' pods (K8S_NAMESPACE); default "default" */
  namespace?: string;
  /** Label selector of the agents' pods (K8S_LABEL_SELECTOR); default "" (every pod) */
  labelSelector?: string;
  /** Pod label naming the agent (K8S_AGENT_LABEL); default "agent", then app.kubernetes.io/name */
  agentLabel?: string;
  /** Pod metrics polling period; 0 turns it off; default 15 s */
  metricsIntervalMs?: number;
  /** How long a Warning event about a pod not yet seen waits for that pod; default 10 s */
  pendingEventMs?: number;
  log?: LogFn;
}

interface PendingWarning {
  event: EventView;
  until: number;
}

export class K8sSource implements ProcessSource {
  readonly source = "k8s";
  readonly namespace: string;
  readonly labelSelector: string;
  readonly agentLabel: string;
  readonly #o: K8sSourceOptions;
  readonly #log: LogFn;
  #emit: (e: RuntimeEvent) => void = () => {};
  #api: ApiConnection | undefined;
  #stop = new AbortController();
  #loops: Promise<void>[] = [];
  /** The last version of each pod seen, by name */
  readonly #pods = new Map<string, PodView>();
  /** Count of each Warning event already emitted, by uid */
  readonly #warnings = new Map<string, number>();
  #pending: PendingWarning[] = [];
  /** Loops failing now (their reason): an outage lasts while any is */
  readonly #failing = new Map<string, string>();
  #podWatch: ListWatch<PodView> | undefined;

  constructor(options: K8sSourceOptions = {}) {
    this.#o = options;
    this.namespace = options.namespace ?? "default";
    this.labelSelector = options.labelSelector ?? "";
    this.agentLabel = options.agentLabel ?? "agent";
    this.#log = options.log ?? (() => {});
  }

  health(): { ok: boolean; reason?: string } {
    if (this.#podWatch === undefined) return { ok: false, reason: "Not started" };
    const failing = [...this.#failing.values()];
    if (failing.length > 0) return { ok: false, reason: failing.join("; ") };
    if (!this.#podWatch.listed) return { ok: false, reason: "Pods not listed yet" };
    return { ok: true };
  }

  /** The pods as last seen (for status pages and tests) */
  pods(): PodView[] {
    return [...this.#pods.values()];
  }

  /**
   * Makes the pod watch resume from `resourceVersion` on its next connection, ending the current
   * one: tests force a 410 Gone with a version older than the server keeps ("1")
   */
  resumePodWatchFrom(resourceVersion: string): void {
    if (this.#podWatch === undefined) return;
    this.#podWatch.resourceVersion = resourceVersion;
    this.#podWatch.reconnect();
  }

  async start(emit: (e: RuntimeEvent) => void): Promise<void> {
    if (this.#podWatch !== undefined) throw new Error("K8s source is already started");
    this.#emit = emit;
    this.#api = await ApiConnection.open(this.#o);
    const api = this.#api;
    const ns = encodeURIComponent(this.namespace);
    this.#podWatch = new ListWatch<PodView>({
      what: "pod",
      path: `/api/v1/namespaces/${ns}/pods`,
      query: { labelSelector: this.labelSelector },
      narrow: narrowPod,
      resourceVersionOf: (pod) => pod.resourceVersion,
      onList: (pods, relist) => this.#onPodList(pods, relist),
      onChange: (type, pod) => this.#onPodChange(type, pod),
    }, this.#o);
    const eventWatch = new ListWatch<EventView>({
      what: "event",
      path: `/api/v1/namespaces/${ns}/events`,
      query: { fieldSelector: "involvedObject.kind=Pod" },
      narrow: narrowEvent,
      resourceVersionOf: (event) => event.resourceVersion,
      onList: (events, relist) => this.#onEventList(events, relist),
      onChange: (type, event) => this.#onEventChange(type, event),
    }, this.#o);
    const signal = this.#stop.signal;
    this.#loops.push(
      this.#podWatch.run(api, signal, this.#reportOf("pods")),
      eventWatch.run(api, signal, this.#reportOf("events")),
    );
    const metricsMs = this.#o.metricsIntervalMs ?? 15_000;
    if (metricsMs > 0) {
      this.#loops.push(pollPodMetrics(api, {
        namespace: this.namespace,
        labelSelector: this.labelSelector,
        intervalMs: metricsMs,
        onUsage: (usage) => this.#onPodUsage(usage),
        log: this.#log,
      }, signal));
    }
    this.#log("info", "k8s source started", {
      server: api.server,
      namespace: this.namespace,
      label_selector: this.labelSelector,
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
    this.#loops = [];
    this.#api?.close();
    this.#api = undefined;
  }

  #agentOf(pod: PodView): string | null {
    return pod.labels[this.agentLabel] ?? pod.labels["app.kubernetes.io/name"] ?? null;
  }

  #emitFor(pod: PodView, event: PodEvent): void {
    this.#emit({
      source: "k8s",
      agent: this.#agentOf(pod),
      process: pod.name,
      namespace: pod.namespace || this.namespace,
      ...event,
    });
  }

  #safely(what: string, body: () => void): void {
    try {
      body();
    } catch (error) {
      this.#log("error", `k8s source: ${what} failed`, { error: errorText(error) });
    }
  }

  #applyPod(pod: PodView): void {
    const now = new Date().toISOString();
    const before = this.#pods.get(pod.name);
    if (before !== undefined && before.uid !== pod.uid) {
      this.#emitFor(before, { kind: "deleted", at: before.deletedAt ?? now });
      this.#pods.delete(pod.name);
      this.#applyPod(pod);
      return;
    }
    // A watch resumed from an old version replays history: never diff backwards.
    if (before !== undefined && !isNewer(pod.resourceVersion, before.resourceVersion)) return;
    this.#pods.set(pod.name, pod);
    for (const event of diffPod(before, pod, now)) this.#emitFor(pod, event);
    if (before === undefined) this.#flushPending(pod.name);
  }

  #deletePod(pod: PodView): void {
    const known = this.#pods.get(pod.name);
    if (known === undefined || known.uid !== pod.uid) return;
    this.#pods.delete(pod.name);
    this.#emitFor(pod, { kind: "deleted", at: new Date().toISOString() });
  }

  #onPodList(pods: PodView[], relist: boolean): void {
    this.#safely("applying a pod list", () => {
      const listed = new Set(pods.map((p) => p.name));
      for (const known of [...this.#pods.values()]) {
        if (!listed.has(known.name)) this.#deletePod(known);
      }
      for (const pod of pods) this.#applyPod(pod);
      if (relist) {
        this.#emit({
          source: "k8s",
          kind: "resynced",
          agent: null,
          process: "",
          namespace: this.namespace,
          at: new Date().toISOString(),
          message: `relisted ${pods.length} pod(s) after the watch expired`,
        });
      }
    });
  }

  #onPodChange(type: "ADDED" | "MODIFIED" | "DELETED", pod: PodView): void {
    this.#safely(`applying a pod ${type}`, () => {
      if (type === "DELETED") this.#deletePod(pod);
      else this.#applyPod(pod);
    });
  }

  #emitWarning(event: EventView, pod: PodView): void {
    this.#warnings.set(event.uid, event.count);
    this.#emitFor(pod, {
      kind: "warning_event",
      at: event.at ?? new Date().toISOString(),
      ...(event.reason !== undefined ? { reason: event.reason } : {}),
      ...(event.message !== undefined ? { message: event.message } : {}),
    });
  }

  #considerWarning(event: EventView): void {
    if (event.type !== "Warning" || event.involvedKind !== "Pod") return;
    const emitted = this.#warnings.get(event.uid);
    if (emitted !== undefined && emitted >= event.count) return;
    const pod = this.#pods.get(event.involvedName);
    if (pod !== undefined) {
      this.#emitWarning(event, pod);
      return;
    }
    // The event may come before the pod watch shows the pod: wait for it a little.
    const now = Date.now();
    this.#pending = this.#pending.filter((p) => p.until > now && p.event.uid !== event.uid);
    this.#pending.push({ event, until: now + (this.#o.pendingEventMs ?? 10_000) });
  }

  #flushPending(podName: string): void {
    const now = Date.now();
    const due = this.#pending.filter((p) => p.until > now && p.event.involvedName === podName);
    this.#pending = this.#pending.filter((p) => p.until > now && p.event.involvedName !== podName);
    for (const { event } of due) this.#considerWarning(event);
  }

  #onEventList(events: EventView[], relist: boolean): void {
    this.#safely("applying an event list", () => {
      if (!relist) {
        // Warnings from before the source started are history, not news.
        for (const event of events) {
          if (event.type === "Warning") this.#warnings.set(event.uid, event.count);
        }
        return;
      }
      const listed = new Set(events.map((e) => e.uid));
      for (const uid of [...this.#warnings.keys()]) {
        if (!listed.has(uid)) this.#warnings.delete(uid);
      }
      for (const event of events) this.#considerWarning(event);
    });
  }

  #onEventChange(type: "ADDED" | "MODIFIED" | "DELETED", event: EventView): void {
    this.#safely(`applying an event ${type}`, () => {
      if (type === "DELETED") this.#warnings.delete(event.uid);
      else this.#considerWarning(event);
    });
  }

  #failed(loop: string, reason: string): void {
    const firstOfOutage = this.#failing.size === 0;
    const wasFailing = this.#failing.has(loop);
    this.#failing.set(loop, reason);
    if (!wasFailing) this.#log("warn", "k8s source cannot reach the API server", { loop, reason });
    if (firstOfOutage) {
      this.#emit({
        source: "k8s",
        kind: "source_error",
        agent: null,
        process: "",
        namespace: this.namespace,
        at: new Date().toISOString(),
        reason: "ApiServerUnreachable",
        message: reason,
      });
    }
  }

  #recovered(loop: string): void {
    if (this.#failing.delete(loop)) {
      this.#log("info", "k8s source reaches the API server again", { loop });
    }
  }

  #reportOf(loop: string): LoopReport {
    return {
      failed: (reason) => this.#failed(loop, reason),
      recovered: () => this.#recovered(loop),
      log: this.#log,
    };
  }

  #onPodUsage(usage: PodUsage[]): void {
    for (const item of usage) {
      const pod = this.#pods.get(item.name);
      if (pod === undefined) continue;
      this.#emitFor(pod, {
        kind: "resources",
        at: item.at ?? new Date().toISOString(),
        cpu_millicores: item.cpuMillicores,
        memory_bytes: item.memoryBytes,
      });
    }
  }
}
