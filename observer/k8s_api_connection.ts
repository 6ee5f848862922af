/**
 * The connection to the API server, and the only module that imports @kubernetes/client-node: its
 * `KubeConfig` loads the in-cluster config (when KUBERNETES_SERVICE_HOST is set) or a kubeconfig,
 * and supplies the TLS material and auth headers. Requests go through Deno's own fetch (a
 * `Deno.HttpClient` holding that TLS material); what they answer is `unknown` to the caller until
 * narrowed. The client is loaded only for RUNTIME_SOURCE=k8s: `process_source_config.ts` imports
 * the Kubernetes source, and so this module, dynamically.
 */

import type { RequestOptions } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { quote } from "./k8s_json.ts";

export interface ApiConnectionOptions {
  /** A kubeconfig to use instead of in-cluster config, $KUBECONFIG or ~/.kube/config */
  kubeconfigPath?: string;
  /** Environment to read KUBERNETES_SERVICE_HOST from; default Deno.env */
  env?: { get(key: string): string | undefined };
}

function pem(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return undefined;
}

/** Connection details of the API server taken from a client-node KubeConfig */
export class ApiConnection {
  readonly server: string;
  readonly #config: KubeConfig;
  readonly #client: Deno.HttpClient;

  private constructor(config: KubeConfig, server: string, client: Deno.HttpClient) {
    this.#config = config;
    this.server = server;
    this.#client = client;
  }

  static async open(options: ApiConnectionOptions): Promise<ApiConnection> {
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
