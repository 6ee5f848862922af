/**
 * The oracle imports nothing that talks to a network: of the observer and the agents it imports
 * only their network-free contracts (`@mat/observer`, `@mat/observer/state`, `@mat/agents/protocol`,
 * `@mat/agents/support`, `@mat/agents/lines`).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

interface Info {
  modules: { specifier: string }[];
}

/** Modules of the observer and the agents that talk to Kafka, Kubernetes or HTTP */
const NETWORK_FILES =
  /\/(kafka_adapter|kafka_bus|kafkajs_support|k8s_source|k8s_api_connection|k8s_watch_stream|k8s_list_watch|k8s_pod_metrics|own_broker|watcher|queue_health|http_api|observer|runtime|supervisor|submit)\.ts$/;
const NETWORK_BUILTINS = /^node:(net|http|https|http2|tls|dgram|dns)$/;

Deno.test("the oracle's module graph holds no npm package and no module that talks to a network", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", MAIN],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  const specifiers = info.modules.map((m) => m.specifier);
  assert.ok(specifiers.some((s) => s.endsWith("/observer/record_format.ts")), "the graph is read");
  assert.deepEqual(specifiers.filter((s) => !s.startsWith("file:") && !s.startsWith("node:")), []);
  assert.deepEqual(specifiers.filter((s) => NETWORK_BUILTINS.test(s)), []);
  assert.deepEqual(
    specifiers.filter((s) => /\/(observer|agents)\//.test(s) && NETWORK_FILES.test(s)),
    [],
  );
});
