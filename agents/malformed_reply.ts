/**
 * The `ERROR` that answers a malformed `TASK` whose sender can still be read, so the sender does
 * not wait for an answer that will never come.
 */

import { createEnvelope, type Envelope, isAgentName } from "./protocol/envelope.ts";
import { isRecord } from "./is_record.ts";

/**
 * An `invalid_message` ERROR from `agent` to the sender of `json`, giving `reason`; undefined when
 * `json` (the record's JSON, when it was JSON) is no `TASK` or names no sender agent and message
 */
export function malformedTaskReply(
  json: unknown,
  reason: string,
  agent: string,
): Envelope | undefined {
  if (!isRecord(json) || json["type"] !== "TASK") return undefined;
  const source = json["source"];
  const messageId = json["message_id"];
  if (typeof source !== "string" || !isAgentName(source) || typeof messageId !== "string") {
    return undefined;
  }
  const text = (k: string) => (typeof json[k] === "string" ? String(json[k]) : "unknown");
  return createEnvelope({
    type: "ERROR",
    source: agent,
    target: source,
    conversation_id: text("conversation_id"),
    task_id: text("task_id"),
    in_reply_to: messageId,
    error: { kind: "invalid_message", message: reason, retryable: false },
  });
}
