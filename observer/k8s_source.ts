/**
 * The Kubernetes process source: lists, then watches, the agents' pods in one namespace (a label
 * selector picks them) and the `Warning` Events about them, and turns each change of a pod into
 * runtime events (`process_event.ts`) by diffing the last version it saw against the new one.
 *
 * Resilience, after client-go's reflector and client-node's informer cache:
 * - The watch resumes from the resourceVersion of the list, the last event or the last bookmark
 *   (`allowWatchBookmarks`), so a reconnect replays what happened meanwhile.
 * - 410 Gone (as the HTTP status or as an in-stream ERROR event) means that version is too old:
 *   it lists again and diffs the list against what it knew, so a pod that restarted or went away
 *   while it was not looking still yields `restarted` or `deleted`, then `resynced`.
 * - A failed request or a dropped connection is retried with exponential backoff (0.5 s doubling
 *   to 30 s, reset on success); `source_error` is emitted once per outage and `health()` says why.
 * - One object that does not narrow is skipped and logged, never fatal.
 * - Pod metrics (`metrics.k8s.io/v1beta1`) are polled when the API is served (404: polling stops).
 *
 * This is the only module that imports @kubernetes/client-node: its `KubeConfig` loads the
 * in-cluster config (when KUBERNETES_SERVICE_HOST is set) or a kubeconfig, and supplies the TLS
 * material and auth headers; requests and watch streams go through Deno's own fetch, and every
 * Kubernetes object arrives as `unknown` and is narrowed by the validators of `k8s_objects.ts`;
 * `k8s_pod_diff.ts` turns two versions of a pod into the events between them.
 */

import type { RequestOptions } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { isRecord, type Narrowed, num, quote, rec, str } from "./k8s_json.ts";
import {
  type EventView,
  isNewer,
  narrowEvent,
  narrowList,
  narrowPod,
  type PodView,
} from "./k8s_objects.ts";
import { diffPod, type PodEvent } from "./k8s_pod_diff.ts";
import { narrowPodMetrics } from "./k8s_pod_metrics.ts";
import type { RuntimeEvent } from "./process_event.ts";
import type { LogFn, ProcessSource } from "./process_source.ts";

export interface K8sSourceOptions {
  /** Namespace of the agents' pods (K8S_NAMESPACE); default "default" */
  namespace?: string;
  /** Label selector of the agents' pods (K8S_LABEL_SELECTOR); default "" (every pod) */
  labelSelector?: string;
  /** Pod label naming the agent (K8S_AGENT_LABEL); default "agent", then app.kubernetes.io/name */
  agentLabel?: string;
  /** A kubeconfig to use instead of in-cluster config, $KUBECONFIG or ~/.kube/config */
  kubeconfigPath?: string;
  /** Environment to read KUBERNETES_SERVICE_HOST from; default Deno.env */
  env?: { get(key: string): string | undefined };
  /** Pod metrics polling period; 0 turns it off; default 15 s */
  metricsIntervalMs?: number;
  /** First reconnect delay, doubling per failure up to maxBackoffMs; default 500 ms and 30 s */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** The server ends each watch after this long and it is reopened; default 240-300 s */
  watchTimeoutSeconds?: number;
  /** How long a Warning event about a pod not yet seen waits for that pod; default 10 s */
  pendingEventMs?: number;
  log?: LogFn;
}

// ---------------------------------------------------------------------------------------------
// Watch events
// ---------------------------------------------------------------------------------------------

type WatchEvent =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: unknown }
  | { type: "BOOKMARK"; resourceVersion: string }
  | { type: "ERROR"; code: number; reason: string; message: string };

function narrowWatchEvent(value: unknown): Narrowed<WatchEvent> {
  if (!isRecord(value)) {
    return { ok: false, error: `Watch event is not an object: ${quote(value)}` };
  }
  const type = value["type"];
  const object = value["object"];
  if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
    return { ok: true, value: { type, object } };
  }
  if (!isRecord(object)) {
    return { ok: false, error: `Watch event object is not an object: ${quote(object)}` };
  }
  if (type === "BOOKMARK") {
    const metadata = rec(object, "metadata");
    const resourceVersion = metadata ? str(metadata, "resourceVersion") : undefined;
    if (resourceVersion === undefined) {
      return { ok: false, error: `Bookmark has no resourceVersion: ${quote(object)}` };
    }
    return { ok: true, value: { type, resourceVersion } };
  }
  if (type === "ERROR") {
    return {
      ok: true,
      value: {
        type,
        code: num(object, "code") ?? 0,
        reason: str(object, "reason") ?? "",
        message: str(object, "message") ?? "",
      },
    };
  }
  return { ok: false, error: `Watch event type is unknown: ${quote(type)}` };
}

// ---------------------------------------------------------------------------------------------
// HTTP against the API server
// ---------------------------------------------------------------------------------------------

/** The API server answered with a status other than 200 */
class HttpStatusError extends Error {
  constructor(readonly status: number, what: string, body: string) {
    super(`${what} answered HTTP ${status}: ${quote(body.slice(0, 200))}`);
    this.name = "HttpStatusError";
  }
}

/** The resourceVersion to resume from is too old (410 Gone): list again */
class GoneError extends Error {
  constructor(what: string, detail: string) {
    super(`${what} resourceVersion expired (410 Gone): ${quote(detail)}`);
    this.name = "GoneError";
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

function pem(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return undefined;
}

/** Connection details of the API server taken from a client-node KubeConfig */
class ApiConnection {
  readonly server: string;
  readonly #config: KubeConfig;
  readonly #client: Deno.HttpClient;

  private constructor(config: KubeConfig, server: string, client: Deno.HttpClient) {
    this.#config = config;
    this.server = server;
    this.#client = client;
  }

  static async open(options: K8sSourceOptions): Promise<ApiConnection> {
    const env = options.env ?? Deno.env;
    const config = new KubeConfig();
    if (options.kubeconfigPath !== undefined) config.loadFromFile(options.kubeconfigPath);
    else if (env.get("KUBERNETES_SERVICE_HOST")) config.loadFromCluster();
    else config.loadFromDefault();
    const cluster = config.getCurrentCluster();
    if (cluster === null) {
      throw new Error(
        `The kubeconfig has no current cluster (context ${quote(config.getCurrentContext())})`,
      );
    }
    if (cluster.skipTLSVerify) {
      throw new Error(
        `Cluster ${quote(cluster.name)} sets insecure-skip-tls-verify, which is not supported`,
      );
    }
    const tls: RequestOptions = {};
    await config.applyToHTTPSOptions(tls);
    const ca = Array.isArray(tls.ca) ? tls.ca.map(pem) : [pem(tls.ca)];
    const caCerts = ca.filter((c): c is string => c !== undefined);
    const cert = Array.isArray(tls.cert) ? undefined : pem(tls.cert);
    const key = Array.isArray(tls.key) ? undefined : pem(tls.key);
    const client = cert !== undefined && key !== undefined
      ? Deno.createHttpClient({ caCerts, cert, key })
      : Deno.createHttpClient({ caCerts });
    return new ApiConnection(config, cluster.server.replace(/\/+$/, ""), client);
  }

  /** Headers with fresh credentials (an in-cluster token is re-read from its file) */
  async #headers(): Promise<Headers> {
    const options: RequestOptions = {};
    await this.#config.applyToHTTPSOptions(options);
    const headers = new Headers({ Accept: "application/json" });
    for (const [key, value] of Object.entries(options.headers ?? {})) {
      if (Array.isArray(value)) { for (const item of value) headers.append(key, item); }
      else if (value !== undefined) headers.set(key, String(value));
    }
    if (typeof options.auth === "string") {
      headers.set("Authorization", `Basic ${btoa(options.auth)}`);
    }
    return headers;
  }

  async get(path: string, query: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== "") url.searchParams.set(key, value);
    }
    return await fetch(url, { headers: await this.#headers(), signal, client: this.#client });
  }

  close(): void {
    this.#client.close();
  }
}

async function* responseLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += value;
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (line !== "") yield line;
      }
    }
    if (rest.trim() !== "") yield rest.trim();
  } finally {
    await reader.cancel().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// One list-then-watch loop per resource
// ---------------------------------------------------------------------------------------------

interface Resource<T> {
  /** "pod" or "event", for messages */
  what: string;
  path: string;
  query: Record<string, string>;
  narrow(value: unknown): Narrowed<T>;
  resourceVersionOf(item: T): string;
  /** A whole list: the first one (`relist` false) or one after a 410 */
  onList(items: T[], relist: boolean): void;
  onChange(type: "ADDED" | "MODIFIED" | "DELETED", item: T): void;
}

class ListWatch<T> {
  resourceVersion: string | undefined;
  listed = false;
  #watch: AbortController | undefined;

  constructor(readonly resource: Resource<T>) {}

  /** Ends the current watch so the loop reconnects (from `resourceVersion`) without an error */
  reconnect(): void {
    this.#watch?.abort(new Error("Reconnect requested"));
  }

  async list(api: ApiConnection, signal: AbortSignal): Promise<void> {
    const { what, path, query } = this.resource;
    const response = await api.get(path, query, signal);
    if (response.status !== 200) {
      throw new HttpStatusError(response.status, `Listing ${what}s`, await response.text());
    }
    const narrowed = narrowList(await response.json(), (v) => this.resource.narrow(v));
    if (!narrowed.ok) throw new Error(`Listing ${what}s: ${narrowed.error}`);
    const relist = this.listed;
    this.listed = true;
    this.resourceVersion = narrowed.value.resourceVersion;
    this.resource.onList(narrowed.value.items, relist);
  }

  /** One watch request; resolves when the server ends it, rejects on errors and 410 */
  async watch(
    api: ApiConnection,
    signal: AbortSignal,
    timeoutSeconds: number,
    onConnected: () => void,
    onSkipped: (error: string) => void,
  ): Promise<void> {
    const { what, path, query } = this.resource;
    const controller = new AbortController();
    this.#watch = controller;
    const both = AbortSignal.any([signal, controller.signal]);
    try {
      const response = await api.get(path, {
        ...query,
        watch: "true",
        allowWatchBookmarks: "true",
        resourceVersion: this.resourceVersion ?? "",
        timeoutSeconds: String(timeoutSeconds),
      }, both);
      if (response.status === 410) {
        throw new GoneError(`Watching ${what}s`, await response.text());
      }
      if (response.status !== 200 || response.body === null) {
        throw new HttpStatusError(response.status, `Watching ${what}s`, await response.text());
      }
      onConnected();
      for await (const line of responseLines(response.body)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          onSkipped(`Watch line is not JSON: ${quote(line)}`);
          continue;
        }
        const event = narrowWatchEvent(parsed);
        if (!event.ok) {
          onSkipped(event.error);
          continue;
        }
        const e = event.value;
        if (e.type === "BOOKMARK") {
          this.resourceVersion = e.resourceVersion;
        } else if (e.type === "ERROR") {
          if (e.code === 410) throw new GoneError(`Watching ${what}s`, e.message);
          throw new Error(
            `Watching ${what}s got an error event ${e.code} ${e.reason}: ${e.message}`,
          );
        } else {
          const item = this.resource.narrow(e.object);
          if (!item.ok) {
            onSkipped(item.error);
            continue;
          }
          this.resourceVersion = this.resource.resourceVersionOf(item.value);
          this.resource.onChange(e.type, item.value);
        }
      }
    } catch (error) {
      // A reconnect asked for (not a stop) ends the watch quietly.
      if (controller.signal.aborted && !signal.aborted) return;
      throw error;
    } finally {
      this.#watch = undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The source
// ---------------------------------------------------------------------------------------------

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
  #metricsServed = true;

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
    });
    const eventWatch = new ListWatch<EventView>({
      what: "event",
      path: `/api/v1/namespaces/${ns}/events`,
      query: { fieldSelector: "involvedObject.kind=Pod" },
      narrow: narrowEvent,
      resourceVersionOf: (event) => event.resourceVersion,
      onList: (events, relist) => this.#onEventList(events, relist),
      onChange: (type, event) => this.#onEventChange(type, event),
    });
    this.#loops.push(this.#run(api, this.#podWatch), this.#run(api, eventWatch));
    const metricsMs = this.#o.metricsIntervalMs ?? 15_000;
    if (metricsMs > 0) this.#loops.push(this.#pollMetrics(api, metricsMs));
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

  async #run<T>(api: ApiConnection, lw: ListWatch<T>): Promise<void> {
    const signal = this.#stop.signal;
    const first = this.#o.backoffMs ?? 500;
    const max = this.#o.maxBackoffMs ?? 30_000;
    let delay = first;
    const loop = `${lw.resource.what}s`;
    while (!signal.aborted) {
      try {
        if (lw.resourceVersion === undefined) {
          await lw.list(api, signal);
          this.#recovered(loop);
          delay = first;
        }
        const timeout = this.#o.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 60);
        const began = Date.now();
        await lw.watch(api, signal, timeout, () => {
          this.#recovered(loop);
          delay = first;
        }, (error) => this.#log("warn", "k8s source skipped an object", { loop, error }));
        // A watch the server ends at once, again and again, must not spin.
        if (Date.now() - began < 1000) await sleep(first, signal);
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof GoneError) {
          this.#log("info", "k8s source relists", { loop, reason: error.message });
          lw.resourceVersion = undefined;
          continue;
        }
        this.#failed(loop, errorText(error));
        await sleep(delay, signal);
        delay = Math.min(max, delay * 2);
      }
    }
  }

  async #pollMetrics(api: ApiConnection, intervalMs: number): Promise<void> {
    const signal = this.#stop.signal;
    const path = `/apis/metrics.k8s.io/v1beta1/namespaces/${
      encodeURIComponent(this.namespace)
    }/pods`;
    let warned = false;
    while (!signal.aborted && this.#metricsServed) {
      await sleep(intervalMs, signal);
      if (signal.aborted) break;
      try {
        const response = await api.get(path, { labelSelector: this.labelSelector }, signal);
        if (response.status === 404) {
          await response.body?.cancel();
          this.#metricsServed = false;
          this.#log("info", "k8s source: metrics.k8s.io is not served; no resource samples");
          break;
        }
        if (response.status !== 200) {
          throw new HttpStatusError(response.status, "Pod metrics", await response.text());
        }
        const usage = narrowPodMetrics(await response.json());
        if (!usage.ok) throw new Error(usage.error);
        warned = false;
        for (const item of usage.value) {
          const pod = this.#pods.get(item.name);
          if (pod === undefined) continue;
          this.#emitFor(pod, {
            kind: "resources",
            at: item.at ?? new Date().toISOString(),
            cpu_millicores: item.cpuMillicores,
            memory_bytes: item.memoryBytes,
          });
        }
      } catch (error) {
        if (signal.aborted) break;
        if (!warned) {
          this.#log("warn", "k8s source: pod metrics failed", { error: errorText(error) });
        }
        warned = true;
      }
    }
  }
}
