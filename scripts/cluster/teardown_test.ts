import { strictEqual } from "node:assert/strict";
import { withoutClusterRules } from "./teardown.ts";

const fixture = (name: string) => Deno.readTextFile(new URL(`./testdata/${name}`, import.meta.url));

Deno.test("withoutClusterRules drops the CNI bridge's chain and the rule jumping to it", async () => {
  const cleaned = withoutClusterRules(await fixture("iptables_nat.txt"), "multi-agent-telemetry");
  const rules = cleaned?.split("\n").filter((line) => /^[:-]/.test(line));
  strictEqual(
    rules?.join("\n"),
    [
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
    ].join("\n"),
  );
});

Deno.test("withoutClusterRules drops the kubelet's KUBE-FIREWALL and the jumps into it", async () => {
  const cleaned = withoutClusterRules(
    await fixture("iptables_filter.txt"),
    "multi-agent-telemetry",
  );
  strictEqual(cleaned?.includes("KUBE-"), false);
  strictEqual(cleaned?.includes(":INPUT ACCEPT [0:0]"), true);
  strictEqual(cleaned?.includes("COMMIT"), true);
});

Deno.test("withoutClusterRules leaves another network's rules and says nothing changed", () => {
  const save = [
    "*nat",
    ":POSTROUTING ACCEPT [0:0]",
    ":CNI-0123abcd - [0:0]",
    '-A POSTROUTING -s 10.88.0.2/32 -m comment --comment "name: \\"podman\\" id: \\"x\\"" -j CNI-0123abcd',
    "COMMIT",
  ].join("\n");
  strictEqual(withoutClusterRules(save, "multi-agent-telemetry"), undefined);
});
