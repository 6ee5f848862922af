// Writes js_sdk_records.json: Kafka records made by the npm `cloudevents` SDK's Kafka binding
// (structured and binary mode) carrying A2A v0.3 JSON-RPC objects shaped by `@a2a-js/sdk`'s types
// (`Message`, `Task`, `TaskStatusUpdateEvent`, `SendMessageRequest`, `SendMessageSuccessResponse`,
// `JSONRPCErrorResponse`). The dialect tests read them; regenerate with
//
//   mkdir /tmp/jsfx && cd /tmp/jsfx && npm i @a2a-js/sdk@0.3.5 cloudevents@10.0.0
//   NODE_PATH=/tmp/jsfx/node_modules node --experimental-default-type=module \
//     agents/protocol/testdata/make_js_fixtures.mjs
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";

const require = createRequire(process.env.NODE_PATH + "/");
const { CloudEvent, Kafka } = require("cloudevents");

const TIME = "2026-12-01T10:00:00.000Z";
/** @type {import("@a2a-js/sdk").Message} */
const ask = {
  kind: "message",
  messageId: "m-1",
  contextId: "ctx-1",
  role: "user",
  parts: [{ kind: "text", text: "write a lag function" }],
};
/** @type {import("@a2a-js/sdk").SendMessageRequest} */
const request = { jsonrpc: "2.0", id: 7, method: "message/send", params: { message: ask } };
/** @type {import("@a2a-js/sdk").Task} */
const failed = {
  kind: "task",
  id: "t-9",
  contextId: "ctx-1",
  status: {
    state: "failed",
    timestamp: TIME,
    message: {
      kind: "message",
      messageId: "m-2",
      role: "agent",
      parts: [{ kind: "text", text: "OpenAI API error 429: Rate limit reached" }],
    },
  },
  history: [ask],
};
/** @type {import("@a2a-js/sdk").SendMessageSuccessResponse} */
const response = { jsonrpc: "2.0", id: 7, result: failed };
/** @type {import("@a2a-js/sdk").TaskStatusUpdateEvent} */
const waiting = {
  kind: "status-update",
  taskId: "t-9",
  contextId: "ctx-1",
  final: true,
  status: { state: "input-required", timestamp: TIME },
};
/** @type {import("@a2a-js/sdk").JSONRPCErrorResponse} */
const rpcError = { jsonrpc: "2.0", id: 7, error: { code: -32603, message: "Internal error" } };

function event(type, source, data) {
  return new CloudEvent({ type, source, id: `ce-${type}`, time: TIME, data });
}

function record(name, message, note) {
  const headers = {};
  for (const [k, v] of Object.entries(message.headers)) headers[k] = String(v);
  // Binary mode hands back the data as it was given: the producer serialises it
  const value = typeof message.value === "string"
    ? message.value
    : message.value instanceof Uint8Array
    ? Buffer.from(message.value).toString("utf8")
    : JSON.stringify(message.value);
  return { name, note, key: message.key ?? null, headers, value };
}

const records = [
  record(
    "structured jsonrpc request",
    Kafka.structured(event("a2a.message.send", "caller", request)),
    "a message/send request: a task",
  ),
  record(
    "structured jsonrpc failed task",
    Kafka.structured(event("a2a.task", "coder", response)),
    "a JSON-RPC result, a failed Task answering m-1",
  ),
  record(
    "binary status update",
    Kafka.binary(event("a2a.status", "coder", waiting)),
    "binary mode, input-required",
  ),
  record(
    "structured jsonrpc error",
    Kafka.structured(event("a2a.error", "coder", rpcError)),
    "a JSON-RPC error response: a failed reply naming no task",
  ),
];
writeFileSync(
  new URL("./js_sdk_records.json", import.meta.url),
  JSON.stringify(records, null, 2) + "\n",
);
console.log(`wrote ${records.length} records`);
