/**
 * The pods' resource usage as the metrics API (`metrics.k8s.io/v1beta1`, served by
 * metrics-server) reports it: a PodMetricsList narrowed to CPU millicores and memory bytes per pod,
 * summed over its containers, and the loop that polls it while it is served.
 */

import type { ApiConnection } from "./k8s_api_connection.ts";
import { HttpStatusError } from "./k8s_api_errors.ts";
import { type Narrowed, quote, rec, str } from "./k8s_json.ts";
import { parseQuantity } from "./k8s_quantity.ts";
import type { LogFn } from "./process_source.ts";
import { errorText, isRecord, sleep } from "@mat/agents/support";

/** Pod metrics of one pod, summed over its containers */
export interface PodUsage {
  name: string;
  at?: string;
  cpuMillicores: number;
  memoryBytes: number;
}

/** Narrows a metrics.k8s.io/v1beta1 PodMetricsList */
export function narrowPodMetrics(value: unknown): Narrowed<PodUsage[]> {
  if (!isRecord(value) || !Array.isArray(value["items"])) {
    return { ok: false, error: `Pod metrics list has no items: ${quote(value)}` };
  }
  const out: PodUsage[] = [];
  for (const item of value["items"]) {
    if (!isRecord(item)) continue;
    const metadata = rec(item, "metadata");
    const name = metadata ? str(metadata, "name") : undefined;
    const containers = item["containers"];
    if (name === undefined || !Array.isArray(containers)) continue;
    const usage: PodUsage = { name, cpuMillicores: 0, memoryBytes: 0 };
    const at = str(item, "timestamp");
    if (at !== undefined) usage.at = at;
    for (const container of containers) {
      const used = isRecord(container) ? rec(container, "usage") : undefined;
      const cpu = used ? str(used, "cpu") : undefined;
      const memory = used ? str(used, "memory") : undefined;
      usage.cpuMillicores += cpu === undefined ? 0 : (parseQuantity(cpu) ?? 0) * 1000;
      usage.memoryBytes += memory === undefined ? 0 : parseQuantity(memory) ?? 0;
    }
    usage.cpuMillicores = Math.round(usage.cpuMillicores * 1000) / 1000;
    usage.memoryBytes = Math.round(usage.memoryBytes);
    out.push(usage);
  }
  return { ok: true, value: out };
}

export interface PodMetricsPoll {
  namespace: string;
  labelSelector: string;
  intervalMs: number;
  /** Each successful poll's usage, one item per pod */
  onUsage(usage: PodUsage[]): void;
  log: LogFn;
}

/**
 * Polls the pods' metrics every `intervalMs` until `signal` aborts, or for good once the API
 * answers 404 (no metrics-server: nothing to sample). A failed poll is logged once per run of
 * failures. Never throws.
 */
export async function pollPodMetrics(
  api: ApiConnection,
  poll: PodMetricsPoll,
  signal: AbortSignal,
): Promise<void> {
  const path = `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(poll.namespace)}/pods`;
  let warned = false;
  while (!signal.aborted) {
    await sleep(poll.intervalMs, signal);
    if (signal.aborted) break;
    try {
      const response = await api.get(path, { labelSelector: poll.labelSelector }, signal);
      if (response.status === 404) {
        await response.body?.cancel();
        poll.log("info", "k8s source: metrics.k8s.io is not served; no resource samples");
        break;
      }
      if (response.status !== 200) {
        throw new HttpStatusError(response.status, "Pod metrics", await response.text());
      }
      const usage = narrowPodMetrics(await response.json());
      if (!usage.ok) throw new Error(usage.error);
      warned = false;
      poll.onUsage(usage.value);
    } catch (error) {
      if (signal.aborted) break;
      if (!warned) poll.log("warn", "k8s source: pod metrics failed", { error: errorText(error) });
      warned = true;
    }
  }
}
