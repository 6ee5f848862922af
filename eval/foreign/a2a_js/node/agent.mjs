/**
 * One agent of the system as a process: `node agent.mjs <router|coder|reviewer>`.
 *
 * Environment: KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), A2A_RUN (the run whose topics it
 * reads and writes: `agents.<run>.<agent>`), FOREIGN_FAULTS (faults to play, see faults.mjs).
 * It reads its topic in group `js-<run>-<agent>`: a request (`message/send`) is answered to the
 * topic in its `reply_topic` header, with its `correlation_id`; a response (the router's workers')
 * goes to the request waiting on it. A worker handles one request at a time per partition and
 * commits it once answered; the router commits a request once its task is started and runs many.
 *
 * Stdout: one line per task event (`coder: working on task ...`, `coder: answered ...`); stderr:
 * warnings and kafkajs. Exit: 0 on SIGTERM/SIGINT, 1 when its consumer stops for good or a
 * promise fails unhandled, 2 on a usage error.
 */

import { isJsonRpcRequest, isJsonRpcResponse, isObject } from "./a2a_objects.mjs";
import { A2aKafkaClient } from "./a2a_client.mjs";
import { A2aServer, agentCard, eventTypeOf } from "./a2a_server.mjs";
import { RouterExecutor, SKILLS, WorkerExecutor } from "./executors.mjs";
import { FaultPlan, parseFaults } from "./faults.mjs";
import { CloudEventsBus, messageOf } from "./kafka_cloudevents.mjs";
import { AGENTS, CORRELATION_ID_HEADER, groupOf, REPLY_TOPIC_HEADER, topicOf } from "./names.mjs";

/** @typedef {import("./kafka_cloudevents.mjs").EventRecord} EventRecord */

/** @param {string} line */
function log(line) {
  process.stdout.write(`${line}\n`);
}

/** @param {string} line */
function warn(line) {
  process.stderr.write(`${line}\n`);
}

/** @param {string} message */
function usage(message) {
  process.stderr.write(`error: ${message}\nusage: node agent.mjs <${AGENTS.join("|")}>\n`);
  process.exit(2);
}

const agent = process.argv[2] ?? "";
if (!AGENTS.some((a) => a === agent)) usage(`unknown agent "${agent}"`);
const run = process.env["A2A_RUN"] ?? "";
if (!/^[A-Za-z0-9_-]+$/.test(run)) {
  usage(`A2A_RUN must be a run id of letters, digits, - and _, got "${run}"`);
}
/** @type {Map<string, import("./faults.mjs").Fault[]>} */
let faults = new Map();
try {
  faults = parseFaults(process.env["FOREIGN_FAULTS"]);
} catch (err) {
  usage(messageOf(err));
}
const brokers = (process.env["KAFKA_BOOTSTRAP_SERVERS"] || "127.0.0.1:9092").split(",")
  .map((b) => b.trim()).filter((b) => b !== "");

const ownTopic = topicOf(agent, run);
const bus = new CloudEventsBus({ brokers, clientId: `${agent}-${run}` });
const client = new A2aKafkaClient(bus, { self: agent, run });
const skill = agent === "coder" || agent === "reviewer" ? SKILLS[agent] : undefined;
const executor = skill === undefined
  ? new RouterExecutor(client, log)
  : new WorkerExecutor(agent, skill.work, new FaultPlan(faults.get(agent) ?? []), log);
const server = new A2aServer(
  agentCard(agent, ownTopic, skill?.describe ?? "Has code written, then reviewed"),
  executor,
);
/** The router runs its tasks side by side; a worker one at a time */
const concurrent = skill === undefined;

/**
 * Where a record is: `topic[partition]@offset`
 * @param {{ topic: string, partition: number, offset: string }} r
 * @returns {string}
 */
function at(r) {
  return `${r.topic}[${r.partition}]@${r.offset}`;
}

/**
 * Answers one request to the requester's reply topic
 * @param {EventRecord} record
 * @param {{ method: string, id?: unknown, params?: unknown }} request
 */
async function serve(record, request) {
  const replyTopic = record.headers[REPLY_TOPIC_HEADER];
  const params = isObject(request.params) ? request.params : {};
  const message = isObject(params["message"]) ? params["message"] : {};
  const messageId = typeof message["messageId"] === "string" ? message["messageId"] : undefined;
  const correlationId = record.headers[CORRELATION_ID_HEADER] ?? messageId ?? "";
  const response = await server.answer(request);
  if (replyTopic === undefined || replyTopic === "") {
    warn(
      `${agent}: request ${correlationId} at ${
        at(record)
      } has no ${REPLY_TOPIC_HEADER} header; dropped`,
    );
    return;
  }
  const key = record.event["partitionkey"];
  await bus.send(replyTopic, {
    type: eventTypeOf(response),
    source: agent,
    data: response,
    key: typeof key === "string" ? key : correlationId,
    headers: { [CORRELATION_ID_HEADER]: correlationId },
  });
  const result = "result" in response && isObject(response.result) ? response.result : undefined;
  const status = isObject(result?.["status"]) ? result["status"] : undefined;
  const what = "error" in response
    ? `error ${response.error.code}`
    : `${result?.["kind"]} ${status?.["state"]}`;
  const taskId = result?.["id"] ?? result?.["taskId"] ?? "-";
  log(`${agent}: answered task ${taskId} (${what}) for message ${correlationId} to ${replyTopic}`);
}

/** @param {EventRecord} record */
async function onEvent(record) {
  const data = record.event.data;
  if (isJsonRpcRequest(data)) {
    const work = serve(record, data);
    if (!concurrent) return await work;
    work.catch((err) => warn(`${agent}: cannot answer ${at(record)}: ${messageOf(err)}`));
    return;
  }
  if (isJsonRpcResponse(data)) {
    const correlationId = record.headers[CORRELATION_ID_HEADER];
    const resolution = client.resolve(correlationId, data);
    const id = correlationId ?? "(no correlation_id)";
    if (resolution === "unknown_request") {
      warn(`${agent}: answer for message ${id} matches no request waiting here; dropped`);
    } else if (resolution === "id_mismatch") {
      warn(`${agent}: answer for message ${id} has another JSON-RPC id than its request; dropped`);
    }
    return;
  }
  warn(
    `${agent}: ${at(record)}: CloudEvent ${record.event.type} holds no JSON-RPC message; skipped`,
  );
}

let stopping = false;
/** @param {number} code */
async function stop(code) {
  if (stopping) return;
  stopping = true;
  // a task still running may hold the consumer: give up waiting after a while
  setTimeout(() => process.exit(code), 10_000).unref();
  await bus.disconnect().catch((err) => warn(`${agent}: disconnect: ${messageOf(err)}`));
  process.exit(code);
}

process.on("SIGTERM", () => void stop(0));
process.on("SIGINT", () => void stop(0));
process.on("unhandledRejection", (err) => {
  warn(`${agent}: unhandled rejection: ${messageOf(err)}`);
  void stop(1);
});

try {
  await bus.connect();
  await bus.consume({
    groupId: groupOf(agent, run),
    topic: ownTopic,
    onEvent,
    onBadRecord: (where, reason) => warn(`${agent}: ${at(where)}: ${reason}; skipped`),
    onFatal: (err) => {
      warn(`${agent}: the consumer stopped for good: ${messageOf(err)}`);
      void stop(1);
    },
  });
  warn(`${agent}: reading ${ownTopic} in group ${groupOf(agent, run)}`);
} catch (err) {
  warn(`${agent}: cannot start: ${messageOf(err)}`);
  await stop(1);
}
