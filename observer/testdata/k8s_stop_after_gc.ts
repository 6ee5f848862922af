/**
 * Run by k8s_source_test.ts under `--v8-flags=--expose-gc`: starts a K8sSource on the kubeconfig
 * given, proves its pod watch delivers (a pod created after the list arrives as `created`), drops
 * what it can to garbage collection, then stops the source. The watches were opened for an hour,
 * so only an abort ends them. Exit 0 when `stop()` resolved within 10 s, 1 when it did not,
 * 2 when the test could not be set up.
 *
 * Usage: k8s_stop_after_gc.ts <kubeconfig> <namespace>; KUBE_URL, KUBE_TOKEN, KUBE_CA_PEM say
 * where the server is, for creating the pod.
 */

import { K8sSource } from "../k8s_source.ts";
import type { RuntimeEvent } from "../process_event.ts";
import { Kube } from "../testing/kube_client.ts";

const STOP_WITHIN_MS = 10_000;

const [kubeconfigPath, namespace] = Deno.args;
const url = Deno.env.get("KUBE_URL");
const token = Deno.env.get("KUBE_TOKEN");
const caCertPem = Deno.env.get("KUBE_CA_PEM");
const gc = (globalThis as { gc?: () => void }).gc;
if (
  kubeconfigPath === undefined || namespace === undefined || url === undefined ||
  token === undefined || caCertPem === undefined || gc === undefined
) {
  console.error("error: usage: deno run --v8-flags=--expose-gc k8s_stop_after_gc.ts KUBECONFIG NS");
  Deno.exit(2);
}

const created = Promise.withResolvers<void>();
const source = new K8sSource({
  kubeconfigPath,
  namespace,
  metricsIntervalMs: 0,
  watchTimeoutSeconds: 3600,
});
await source.start((e: RuntimeEvent) => {
  if (e.kind === "created" && e.process === "after-the-list") created.resolve();
});
const kube = new Kube({ url, token, caCertPem }, namespace);
while (!source.health().ok) await new Promise((r) => setTimeout(r, 20));
await kube.createPod("after-the-list", { agent: "coder" });
await created.promise;
kube.close();
for (let i = 0; i < 3; i++) gc();

let deadline: ReturnType<typeof setTimeout> | undefined;
const stopped = await Promise.race([
  source.stop().then(() => true),
  new Promise<boolean>((resolve) => deadline = setTimeout(() => resolve(false), STOP_WITHIN_MS)),
]);
clearTimeout(deadline);
console.log(stopped ? "stopped" : `stop() had not resolved after ${STOP_WITHIN_MS} ms`);
Deno.exit(stopped ? 0 : 1);
