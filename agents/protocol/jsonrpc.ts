/**
 * A2A's JSON-RPC 2.0 binding read through: a request's `params` and a response's `result` are
 * A2A objects (a2a.ts); an `error` response is a failed reply.
 *
 * Methods, both spec versions: `message/send`, `message/stream` (v0.3) and `SendMessage`,
 * `SendStreamingMessage` (v1.0) carry a `Message` in `params.message`; `tasks/cancel` /
 * `CancelTask` cancel the task `params.id` (v1.0 also `params.name` = `tasks/{id}`). Other methods
 * (`tasks/get`, push notification configs...) are read as `other`. A JSON-RPC `id` is no message
 * id: an error response names no task, so it is joined to its task by the record's correlation
 * header, when there is one.
 */

import { isRecord } from "../is_record.ts";
import { readA2a } from "./a2a.ts";
import { failureOf } from "./failure_text.ts";
import type { DialectRead } from "./normalized.ts";

const SEND = new Set(["message/send", "message/stream", "SendMessage", "SendStreamingMessage"]);
const CANCEL = new Set(["tasks/cancel", "CancelTask"]);

/** Whether a JSON value is a JSON-RPC 2.0 request or response */
export function isJsonRpc(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && value["jsonrpc"] === "2.0";
}

function prefixed(read: DialectRead): DialectRead {
  return read.ok
    ? { ok: true, message: { ...read.message, dialect: `jsonrpc/${read.message.dialect}` } }
    : { ok: false, reason: `JSON-RPC ${read.reason}` };
}

function rpcId(value: Record<string, unknown>): string {
  const id = value["id"];
  return typeof id === "string" || typeof id === "number" ? String(id) : "";
}

/** Reads a JSON-RPC request or response carrying A2A */
export function readJsonRpc(value: Record<string, unknown>): DialectRead {
  const method = value["method"];
  const params = isRecord(value["params"]) ? value["params"] : {};
  if (typeof method === "string") {
    if (SEND.has(method)) {
      return isRecord(params["message"])
        ? prefixed(readA2a(params["message"]))
        : { ok: false, reason: `JSON-RPC ${method} has no "params.message"` };
    }
    const id = rpcId(value);
    if (CANCEL.has(method)) {
      const name = typeof params["name"] === "string" ? params["name"].replace(/^tasks\//, "") : "";
      const taskId = typeof params["id"] === "string" ? params["id"] : name;
      if (taskId === "") return { ok: false, reason: `JSON-RPC ${method} names no task ("id")` };
      return {
        ok: true,
        message: {
          dialect: "jsonrpc/a2a",
          kind: "cancel",
          message_id: `cancel:${taskId}:${id}`,
          conversation_id: taskId,
          task_id: taskId,
          attempt: 1,
          payload: value,
        },
      };
    }
    return {
      ok: true,
      message: {
        dialect: "jsonrpc/a2a",
        kind: "other",
        message_id: `${method}:${id}`,
        conversation_id: id,
        task_id: id,
        attempt: 1,
        payload: value,
      },
    };
  }
  if ("result" in value) return prefixed(readA2a(value["result"]));
  const error = value["error"];
  if (isRecord(error)) {
    const id = rpcId(value);
    const text = typeof error["message"] === "string" ? error["message"] : "";
    const code = typeof error["code"] === "number" ? ` (JSON-RPC error ${error["code"]})` : "";
    return {
      ok: true,
      message: {
        dialect: "jsonrpc/a2a",
        kind: "reply_failed",
        message_id: `jsonrpc-error:${id}`,
        conversation_id: id,
        task_id: id,
        attempt: 1,
        error: failureOf(`${text}${code}`),
        payload: value,
      },
    };
  }
  return { ok: false, reason: `JSON-RPC object has no "method", "result" nor "error"` };
}
