/**
 * Which process source (pods or local agent processes) the observer watches, from the environment:
 *
 * | variable                  | default                                     | meaning                       |
 * |---------------------------|---------------------------------------------|-------------------------------|
 * | `RUNTIME_SOURCE`          | `k8s` in a pod, else `local`                | `k8s`, `local` or `none`      |
 * | `K8S_NAMESPACE`           | `telemetry`                                 | namespace of the agents' pods |
 * | `K8S_LABEL_SELECTOR`      | `app.kubernetes.io/part-of=multi-agent-system` | which pods are agents      |
 * | `K8S_AGENT_LABEL`         | `agent`                                     | pod label naming the agent    |
 * | `K8S_METRICS_INTERVAL_MS` | `15000`                                     | pod metrics poll, 0 = off     |
 * | `AGENTS_STATE_DIR`        | `./.agents`                                 | the local supervisor's records |
 */

import { ConfigError } from "./config.ts";
import { LocalSource } from "./local_source.ts";
import type { LogFn, ProcessSource } from "./process_source.ts";

type Env = { get(key: string): string | undefined };

/**
 * The process source the environment asks for. The Kubernetes source (and its client, some 70 MB
 * of resident memory) is loaded only when it is the one asked for.
 */
export async function processSourceFromEnv(
  env: Env,
  log: LogFn,
): Promise<ProcessSource | undefined> {
  const kind = env.get("RUNTIME_SOURCE") || (env.get("KUBERNETES_SERVICE_HOST") ? "k8s" : "local");
  if (kind === "none") return undefined;
  if (kind === "local") {
    return new LocalSource({ stateDir: env.get("AGENTS_STATE_DIR") || "./.agents", log });
  }
  if (kind === "k8s") {
    const metrics = Number(env.get("K8S_METRICS_INTERVAL_MS") ?? "15000");
    if (!Number.isInteger(metrics) || metrics < 0) {
      throw new ConfigError(
        `K8S_METRICS_INTERVAL_MS must be a whole number of milliseconds, got "${
          env.get("K8S_METRICS_INTERVAL_MS")
        }"`,
        "K8S_METRICS_INTERVAL_MS",
        env.get("K8S_METRICS_INTERVAL_MS"),
      );
    }
    const { K8sSource } = await import("./k8s_source.ts");
    return new K8sSource({
      namespace: env.get("K8S_NAMESPACE") || "telemetry",
      labelSelector: env.get("K8S_LABEL_SELECTOR") ??
        "app.kubernetes.io/part-of=multi-agent-system",
      agentLabel: env.get("K8S_AGENT_LABEL") || "agent",
      metricsIntervalMs: metrics,
      env,
      log,
    });
  }
  throw new ConfigError(
    `RUNTIME_SOURCE must be k8s, local or none, got "${kind}"`,
    "RUNTIME_SOURCE",
    kind,
  );
}
