import { deepStrictEqual, strictEqual } from "node:assert/strict";

const SCRIPT = new URL("./kafka/docker/properties", import.meta.url).pathname;

async function properties(env: Record<string, string>): Promise<string[]> {
  const output = await new Deno.Command("bash", {
    args: [SCRIPT],
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  strictEqual(new TextDecoder().decode(output.stderr), "");
  strictEqual(output.code, 0);
  return new TextDecoder().decode(output.stdout).split("\n").filter((line) => line !== "");
}

Deno.test("the Kafka stand-in maps KAFKA_* variables to broker properties as apache/kafka does", async () => {
  deepStrictEqual(
    await properties({
      CLUSTER_ID: "ErpFn2zXSMmmIeK-ldXu5A",
      KAFKA_NODE_ID: "1",
      KAFKA_LISTENERS: "PLAINTEXT://:9092,CONTROLLER://:9093",
      KAFKA_CONTROLLER_QUORUM_VOTERS: "1@localhost:9093",
      KAFKA_LOG_DIRS: "/var/lib/kafka/data",
      KAFKA_HEAP_OPTS: "-Xms512m -Xmx512m",
      KAFKA_OPTS: "-Dx=y",
      KAFKA_CONFLUENT__SUPPORT___METRICS_ENABLE: "false",
      KAFKA_SASL_JAAS_CONFIG: "a=b;c=",
    }),
    [
      "confluent_support-metrics.enable=false",
      "controller.quorum.voters=1@localhost:9093",
      "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
      "log.dirs=/var/lib/kafka/data",
      "node.id=1",
      "sasl.jaas.config=a=b;c=",
    ],
  );
});

Deno.test("the Kafka stand-in makes no properties without KAFKA_* variables", async () => {
  deepStrictEqual(await properties({ CLUSTER_ID: "x", KAFKA_HEAP_OPTS: "-Xmx1g" }), []);
});
