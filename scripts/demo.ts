/**
 * `deno task demo`: the main job. Starts what is missing (the broker, the agents), sends a request
 * through the four agents and prints the answer, then stops what it started.
 * Exit codes: 0 answered, 1 anything failed.
 */

import { KafkaBus } from "@mat/agents";
import { submitRequest } from "@mat/agents/submit";
import { AgentsProcess } from "@mat/agents/testing";
import { startKafka, stopKafka } from "./kafka.ts";

const REQUEST = Deno.args.join(" ").trim() ||
  "Explain consumer lag in Kafka and write a function that computes it";

async function main(): Promise<number> {
  const kafka = await startKafka({ stopOnFailure: true });
  const stateDir = Deno.env.get("AGENTS_STATE_DIR") || "./.agents";
  const agents = AgentsProcess.start({
    prefix: Deno.env.get("KAFKA_TOPIC_PREFIX") || "agent-queue-",
  }, {
    stateDir,
    env: { KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap },
  });
  const bus = new KafkaBus(kafka.bootstrap.split(","), "demo");
  try {
    console.error("demo: starting the four agents...");
    await agents.ready();
    console.error(`demo: submitting "${REQUEST}"`);
    const out = await submitRequest({ bus, request: REQUEST, timeoutMs: 60_000 });
    if (out.reply?.type !== "RESULT") {
      console.error(
        `demo: no answer: ${out.reply?.error?.kind ?? "timeout"} ${
          out.reply?.error?.message ?? ""
        }`,
      );
      return 1;
    }
    console.log(String(out.reply.payload["answer"]));
    console.error(`demo: answered (conversation ${out.conversation_id}, trace ${out.traceparent})`);
    return 0;
  } finally {
    await bus.close();
    await agents.stop();
    if (kafka.started) await stopKafka();
  }
}

Deno.exit(
  await main().catch((err) => {
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }),
);
