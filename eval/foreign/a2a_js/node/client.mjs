/**
 * The system's own client: `node client.mjs [--timeout-ms N] [--] <prompt>...`.
 *
 * Sends each prompt to the router as a new A2A task (its own conversation), the way the caller
 * does, and waits for the answers on the caller's topic (group `js-<run>-caller`) until the
 * timeout (default 60000 ms) from the moment the requests are sent. Prints one JSON line per
 * prompt, in order: `{"request": <messageId>, "outcome": "completed" | "failed" |
 * "input_required" | "timeout", "text": ...}`.
 *
 * Environment: KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), A2A_RUN.
 * Exit: 0 when every request was sent (whatever the answers), 1 on a Kafka error, 2 on a usage
 * error.
 */

import { randomUUID } from "node:crypto";
import { A2aKafkaClient } from "./a2a_client.mjs";
import { isJsonRpcResponse } from "./a2a_objects.mjs";
import { CloudEventsBus, messageOf } from "./kafka_cloudevents.mjs";
import { AGENTS, CORRELATION_ID_HEADER, groupOf, topicOf, USER_INBOX } from "./names.mjs";

/** @typedef {import("./a2a_objects.mjs").Answer} Answer */

/** @param {string} message */
function usage(message) {
  process.stderr.write(
    `error: ${message}\nusage: node client.mjs [--timeout-ms N] [--] <prompt>...\n`,
  );
  process.exit(2);
}

/** @param {string} line */
function warn(line) {
  process.stderr.write(`${line}\n`);
}

const args = process.argv.slice(2);
let timeoutMs = 60_000;
/** @type {string[]} */
const prompts = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i] ?? "";
  if (arg === "--") {
    prompts.push(...args.slice(i + 1));
    break;
  }
  if (arg === "--timeout-ms") {
    const raw = args[++i];
    timeoutMs = Number(raw);
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
      usage(`--timeout-ms must be a positive integer, got "${raw ?? ""}"`);
    }
  } else if (arg.startsWith("-")) {
    usage(`unknown flag "${arg}"`);
  } else {
    prompts.push(arg);
  }
}
if (prompts.length === 0) usage("no prompt given");
const run = process.env["A2A_RUN"] ?? "";
if (!/^[A-Za-z0-9_-]+$/.test(run)) {
  usage(`A2A_RUN must be a run id of letters, digits, - and _, got "${run}"`);
}
const brokers = (process.env["KAFKA_BOOTSTRAP_SERVERS"] || "127.0.0.1:9092").split(",")
  .map((b) => b.trim()).filter((b) => b !== "");
const entry = AGENTS[0];

const bus = new CloudEventsBus({ brokers, clientId: `${USER_INBOX}-${run}` });
const client = new A2aKafkaClient(bus, { self: USER_INBOX, run });
let code = 0;
try {
  await bus.connect();
  await bus.consume({
    groupId: groupOf(USER_INBOX, run),
    topic: topicOf(USER_INBOX, run),
    onEvent: (record) => {
      if (isJsonRpcResponse(record.event.data)) {
        client.resolve(record.headers[CORRELATION_ID_HEADER], record.event.data);
      }
      return Promise.resolve();
    },
    onBadRecord: (where, reason) => {
      warn(`client: ${where.topic}[${where.partition}]@${where.offset}: ${reason}; skipped`);
    },
    onFatal: (err) => {
      warn(`client: the consumer stopped for good: ${messageOf(err)}`);
      process.exit(1);
    },
  });
  const sent = [];
  for (const prompt of prompts) sent.push(await client.request(entry, prompt, randomUUID()));
  /** @type {Promise<Answer | undefined>} */
  const timeout = new Promise((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref());
  for (const { messageId, answer } of sent) {
    const got = await Promise.race([answer, timeout]);
    const line = got === undefined
      ? { request: messageId, outcome: "timeout", text: "" }
      : { request: messageId, outcome: got.outcome, text: got.text };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
} catch (err) {
  warn(`client: ${messageOf(err)}`);
  code = 1;
}
await bus.disconnect().catch((err) => warn(`client: disconnect: ${messageOf(err)}`));
process.exit(code);
