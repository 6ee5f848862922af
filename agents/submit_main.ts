/**
 * `deno task submit "<request>"`: sends a request to the orchestrator and prints the answer.
 * Exit codes: 0 answered, 1 the system answered with an error or not at all, 2 usage error.
 */

import { parseArgs } from "node:util";
import { bootstrapServers } from "./bootstrap_servers.ts";
import { KafkaBus } from "./kafka_bus.ts";
import { submitRequest } from "./submit.ts";
import { errorText } from "./error_text.ts";
import { MissingTopicError, missingTopicLine } from "./missing_topic.ts";
import { topicPrefix } from "./topics.ts";

const USAGE =
  `Usage: deno task submit [--plan AGENT,AGENT...] [--timeout SECONDS] [--json] "<request>"

Sends a request to the orchestrator and prints its answer.

Options:
  --plan AGENTS      comma-separated agents to hand the request to, in order
                     (default: the orchestrator plans: researcher, writer, and coder for code)
  --timeout SECONDS  how long to wait for the answer (default 60)
  --json             print the answering envelope as JSON

Example:
  deno task submit "Explain consumer lag and write a function that computes it"`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        plan: { type: "string" },
        timeout: { type: "string", default: "60" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const request = positionals.join(" ").trim();
  if (request === "") {
    console.error('error: a request is required, as in: deno task submit "Summarise Kafka"');
    return 2;
  }
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    console.error(`error: --timeout must be a positive number of seconds, got "${values.timeout}"`);
    return 2;
  }
  const plan = values.plan?.split(",").map((s) => s.trim()).filter((s) => s !== "");
  let brokers: string[];
  try {
    brokers = bootstrapServers();
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 2;
  }
  const bus = new KafkaBus(brokers, `submit-${Deno.pid}`);
  try {
    const outcome = await submitRequest({
      bus,
      request,
      timeoutMs: timeout * 1000,
      ...(plan ? { plan } : {}),
    });
    const reply = outcome.reply;
    if (values.json) console.log(JSON.stringify(reply ?? null, null, 2));
    if (reply === undefined) {
      console.error(
        `error: no answer for conversation "${outcome.conversation_id}" within ${timeout}s`,
      );
      return 1;
    }
    if (reply.type === "ERROR") {
      console.error(
        `error: conversation "${outcome.conversation_id}" failed: ${reply.error?.kind}: ${reply.error?.message}`,
      );
      return 1;
    }
    if (!values.json) {
      console.log(String(reply.payload["answer"] ?? JSON.stringify(reply.payload)));
      console.error(`conversation ${outcome.conversation_id} (trace ${outcome.traceparent})`);
    }
    return 0;
  } catch (err) {
    const why = err instanceof MissingTopicError
      ? missingTopicLine(err, topicPrefix())
      : errorText(err);
    console.error(`error: cannot submit: ${why}`);
    return 1;
  } finally {
    await bus.close();
  }
}

Deno.exit(await main(Deno.args));
