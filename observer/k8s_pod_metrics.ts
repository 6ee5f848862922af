/**
 * The pods' resource usage as the metrics API (`metrics.k8s.io/v1beta1`, served by
 * metrics-server) reports it: a PodMetricsList narrowed to CPU millicores and memory bytes per pod,
 * summed over its containers.
 */

import { isRecord, type Narrowed, quote, rec, str } from "./k8s_json.ts";
import { parseQuantity } from "./k8s_quantity.ts";

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
