// deno-lint-ignore-file explicit-module-boundary-types -- JSDoc types it (npm run check: tsc)
/**
 * The A2A protocol objects this system writes and reads, typed by @a2a-js/sdk (A2A v0.3 JSON:
 * `kind` on every object, `role` `user`/`agent`, text parts `{kind: "text", text}`, lower-case
 * kebab task states), and the JSON-RPC 2.0 frames they travel in: a `message/send` request, and a
 * response whose `result` is a Task or, for a task that waits on a person, its status-update event.
 */

import { randomUUID } from "node:crypto";

/** @typedef {import("@a2a-js/sdk").Message} Message */
/** @typedef {import("@a2a-js/sdk").Task} Task */
/** @typedef {import("@a2a-js/sdk").TaskState} TaskState */
/** @typedef {import("@a2a-js/sdk").TaskStatusUpdateEvent} TaskStatusUpdateEvent */
/** @typedef {import("@a2a-js/sdk").SendMessageRequest} SendMessageRequest */
/** @typedef {import("@a2a-js/sdk").SendStreamingMessageResponse} SendStreamingMessageResponse */
/** @typedef {import("@a2a-js/sdk").JSONRPCResponse} JSONRPCResponse */

/**
 * What an answer means to whoever asked: done, failed, or waiting on a person
 * @typedef {{ outcome: "completed" | "failed" | "input_required", text: string }} Answer
 */

/**
 * A user message starting a task in conversation `contextId` (the task id is the server's to give)
 * @param {string} text
 * @param {string} contextId
 * @returns {Message}
 */
export function userMessage(text, contextId) {
  return {
    kind: "message",
    role: "user",
    messageId: randomUUID(),
    contextId,
    parts: [{ kind: "text", text }],
  };
}

/**
 * An agent's message about task `taskId`
 * @param {string} text
 * @param {string} contextId
 * @param {string} taskId
 * @returns {Message}
 */
export function agentMessage(text, contextId, taskId) {
  return {
    kind: "message",
    role: "agent",
    messageId: randomUUID(),
    contextId,
    taskId,
    parts: [{ kind: "text", text }],
  };
}

/**
 * The JSON-RPC request that sends `message` (blocking: the answer is the task as it ends)
 * @param {Message} message
 * @returns {SendMessageRequest}
 */
export function sendMessageRequest(message) {
  return {
    jsonrpc: "2.0",
    id: randomUUID(),
    method: "message/send",
    params: { message, configuration: { blocking: true, acceptedOutputModes: ["text/plain"] } },
  };
}

/**
 * A task's status-update event, with a message from the agent
 * @param {string} taskId
 * @param {string} contextId
 * @param {TaskState} state
 * @param {string} text
 * @returns {TaskStatusUpdateEvent}
 */
export function statusUpdate(taskId, contextId, state, text) {
  return {
    kind: "status-update",
    taskId,
    contextId,
    status: {
      state,
      message: agentMessage(text, contextId, taskId),
      timestamp: new Date().toISOString(),
    },
    // The SDK's event queue ends a blocking message/send at the final event; an interrupted
    // state (input-required) ends this interaction too, as the SDK's samples mark it
    final: true,
  };
}

/**
 * A task just submitted, its request first in its history
 * @param {Message} request
 * @param {string} taskId
 * @param {string} contextId
 * @returns {Task}
 */
export function submittedTask(request, taskId, contextId) {
  return {
    kind: "task",
    id: taskId,
    contextId,
    status: { state: "submitted", timestamp: new Date().toISOString() },
    history: [request],
  };
}

/**
 * The text parts of a message, joined by newlines
 * @param {Message | undefined} message
 * @returns {string}
 */
export function textOf(message) {
  if (message === undefined) return "";
  return message.parts.flatMap((p) => p.kind === "text" ? [p.text] : []).join("\n");
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
export function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Whether `data` is a JSON-RPC 2.0 request (it has a method), not a response
 * @param {unknown} data
 * @returns {data is { jsonrpc: "2.0", method: string, id?: unknown, params?: unknown }}
 */
export function isJsonRpcRequest(data) {
  return isObject(data) && data["jsonrpc"] === "2.0" && typeof data["method"] === "string";
}

/**
 * Whether `data` is a JSON-RPC 2.0 response (a result or an error)
 * @param {unknown} data
 * @returns {data is { jsonrpc: "2.0", id: unknown, result?: unknown, error?: unknown }}
 */
export function isJsonRpcResponse(data) {
  return isObject(data) && data["jsonrpc"] === "2.0" && ("result" in data || "error" in data);
}

/**
 * What a task's state means to the requester; undefined while the task is under way
 * @param {unknown} state
 * @returns {Answer["outcome"] | undefined}
 */
function outcomeOfState(state) {
  switch (state) {
    case "completed":
      return "completed";
    case "failed":
    case "rejected":
    case "canceled":
      return "failed";
    case "input-required":
    case "auth-required":
      return "input_required";
    default:
      return undefined;
  }
}

/**
 * The text of a status's message (narrowed from what arrived)
 * @param {unknown} status
 * @returns {string}
 */
function statusText(status) {
  if (!isObject(status) || !isObject(status["message"])) return "";
  const parts = status["message"]["parts"];
  if (!Array.isArray(parts)) return "";
  return parts.flatMap((p) => isObject(p) && typeof p["text"] === "string" ? [p["text"]] : [])
    .join("\n");
}

/**
 * What a JSON-RPC response that arrived answers: undefined when it answers nothing yet (a task
 * still working) or is no A2A response at all
 * @param {unknown} response
 * @returns {Answer | undefined}
 */
export function answerOf(response) {
  if (!isJsonRpcResponse(response)) return undefined;
  if (isObject(response.error)) {
    const message = response.error["message"];
    return { outcome: "failed", text: typeof message === "string" ? message : "JSON-RPC error" };
  }
  const result = response.result;
  if (!isObject(result)) return undefined;
  switch (result["kind"]) {
    case "message":
      return { outcome: "completed", text: statusText({ message: result }) };
    case "task":
    case "status-update": {
      const status = result["status"];
      const outcome = outcomeOfState(isObject(status) ? status["state"] : undefined);
      return outcome === undefined ? undefined : { outcome, text: statusText(status) };
    }
    default:
      return undefined;
  }
}
