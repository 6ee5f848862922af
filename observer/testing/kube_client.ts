/**
 * Test helper: a minimal REST client for what a kubelet and a test do to a real kube-apiserver
 * (scripts/kube_apiserver.ts): create pods and Warning events, write a pod's status, delete it.
 * No kubelet runs in the tests; `pod_status.ts` makes the statuses one would write.
 */

import assert from "node:assert/strict";
import type { KubeApiServer } from "../../scripts/kube_apiserver.ts";

/** Where the server is and how to reach it */
export type KubeServer = Pick<KubeApiServer, "url" | "token" | "caCertPem">;

/** Minimal REST client for what a kubelet and a test do to the API */
export class Kube {
  readonly #client: Deno.HttpClient;
  constructor(readonly server: KubeServer, readonly namespace: string) {
    this.#client = Deno.createHttpClient({ caCerts: [server.caCertPem] });
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<unknown> {
    const response = await fetch(`${this.server.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.server.token}`,
        "Content-Type": contentType ?? "application/json",
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      client: this.#client,
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text) as unknown;
  }

  async status(path: string): Promise<number> {
    const response = await fetch(`${this.server.url}${path}`, {
      headers: { Authorization: `Bearer ${this.server.token}` },
      client: this.#client,
    });
    await response.body?.cancel();
    return response.status;
  }

  createNamespace(name: string): Promise<unknown> {
    return this.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    });
  }

  createPod(name: string, labels: Record<string, string>): Promise<unknown> {
    return this.request("POST", `/api/v1/namespaces/${this.namespace}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: this.namespace, labels },
      spec: { containers: [{ name: "agent", image: "multi-agent-telemetry:dev" }] },
    });
  }

  /** Writes the status subresource as a kubelet would (a merge patch replaces the lists) */
  patchStatus(name: string, status: Record<string, unknown>): Promise<unknown> {
    return this.request(
      "PATCH",
      `/api/v1/namespaces/${this.namespace}/pods/${name}/status`,
      { status },
      "application/merge-patch+json",
    );
  }

  deletePod(name: string): Promise<unknown> {
    return this.request(
      "DELETE",
      `/api/v1/namespaces/${this.namespace}/pods/${name}?gracePeriodSeconds=0`,
    );
  }

  createWarning(pod: string, reason: string, message: string): Promise<unknown> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    return this.request("POST", `/api/v1/namespaces/${this.namespace}/events`, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${pod}.${crypto.randomUUID().slice(0, 8)}`, namespace: this.namespace },
      involvedObject: { kind: "Pod", name: pod, namespace: this.namespace, apiVersion: "v1" },
      reason,
      message,
      type: "Warning",
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: "kubelet" },
    });
  }

  close(): void {
    this.#client.close();
  }
}
