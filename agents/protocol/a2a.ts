/**
 * The A2A dialect: A2A protocol objects in their JSON mapping, as the A2A SDKs write them.
 *
 * Follows the A2A v1.0 specification (`a2a.proto`, ProtoJSON mapping: lowerCamelCase field names,
 * enum values by name) and the v0.3 JSON schema still common (a `kind` on every object, lower-case
 * kebab states):
 * - `Message` (`messageId`, `contextId`, `taskId`, `role`, `parts`, `referenceTaskIds`): from the
 *   user role (`ROLE_USER`, v0.3 `"user"`) it hands work to the agent whose queue it is on, a
 *   task in the conversation `contextId`; from the agent role it answers one.
 * - `Task` (`id`, `contextId`, `status`, `history`) and `TaskStatusUpdateEvent` (`taskId`,
 *   `contextId`, `status`; v0.3 `kind: "status-update"`): `status.state` says how the task
 *   stands. Terminal states answer it: `COMPLETED` -> reply_ok; `FAILED`, `REJECTED` ->
 *   reply_failed, the status message's text as the error; `CANCELED` -> cancel.
 *   `INPUT_REQUIRED`, `AUTH_REQUIRED` -> progress waiting on a person (never stuck); `SUBMITTED`,
 *   `WORKING` -> progress.
 * - `TaskArtifactUpdateEvent` (v0.3 `kind: "artifact-update"`) -> other.
 * - The v1.0 wrappers `SendMessageRequest`/`SendMessageResponse`/`StreamResponse` (`message`,
 *   `task`, `statusUpdate`, `artifactUpdate`) are read through.
 * A2A names no sender and no deadline: the record's headers, key and topic say who and where.
 * The task a reply answers is the newest user message of its `history`, when it has one.
 */

import { isRecord } from "../is_record.ts";
import { failureOf } from "./failure_text.ts";
import type { DialectRead, MessageKind, NormalizedMessage, WaitingOn } from "./normalized.ts";

type Json = Record<string, unknown>;

export type A2aVersion = "a2a-v1" | "a2a-v0.3";

interface StateMeaning {
  kind: MessageKind;
  waiting_on?: WaitingOn;
  /** What a failure is called when its message says nothing */
  failure?: string;
}

/** `TaskState` by its v1.0 name without the `TASK_STATE_` prefix, lower-case and kebab */
const STATES: Record<string, StateMeaning> = {
  "submitted": { kind: "progress" },
  "working": { kind: "progress" },
  "completed": { kind: "reply_ok" },
  "failed": { kind: "reply_failed", failure: "failed" },
  "rejected": { kind: "reply_failed", failure: "rejected" },
  "canceled": { kind: "cancel" },
  "cancelled": { kind: "cancel" },
  "input-required": { kind: "progress", waiting_on: "input" },
  "auth-required": { kind: "progress", waiting_on: "auth" },
  "unknown": { kind: "other" },
  "unspecified": { kind: "other" },
};

/** A state as either version writes it: `TASK_STATE_INPUT_REQUIRED` or `input-required` */
function stateName(raw: string): string {
  return raw.replace(/^TASK_STATE_/, "").toLowerCase().replaceAll("_", "-");
}

function str(o: Json, key: string): string | undefined {
  const v = o[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The text of a message's parts (`text` parts, both versions), joined */
export function partsText(message: unknown): string {
  if (!isRecord(message) || !Array.isArray(message["parts"])) return "";
  return message["parts"]
    .map((p) => (isRecord(p) && typeof p["text"] === "string" ? p["text"] : ""))
    .filter((t) => t !== "")
    .join(" ");
}

function roleOf(raw: unknown): "user" | "agent" | undefined {
  if (raw === "ROLE_USER" || raw === "user") return "user";
  if (raw === "ROLE_AGENT" || raw === "agent") return "agent";
  return undefined;
}

/** The newest user message id in a task's history: the message that handed the task over */
function askedBy(history: unknown): string | undefined {
  if (!Array.isArray(history)) return undefined;
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i];
    if (isRecord(m) && roleOf(m["role"]) === "user" && typeof m["messageId"] === "string") {
      return m["messageId"];
    }
  }
  return undefined;
}

function readMessage(o: Json, version: A2aVersion): DialectRead {
  const messageId = str(o, "messageId");
  if (messageId === undefined) {
    return { ok: false, reason: `Message "messageId" must be a non-empty string` };
  }
  const role = roleOf(o["role"]);
  if (role === undefined) {
    return {
      ok: false,
      reason: `Message "role" must be ROLE_USER or ROLE_AGENT (v0.3: user, agent), got ${
        JSON.stringify(o["role"] ?? null)
      }`,
    };
  }
  const refs = Array.isArray(o["referenceTaskIds"]) ? o["referenceTaskIds"] : [];
  const ref = typeof refs[0] === "string" ? refs[0] : undefined;
  const taskId = str(o, "taskId") ?? (role === "agent" ? ref : undefined) ?? messageId;
  const message: NormalizedMessage = {
    dialect: version,
    kind: role === "user" ? "task" : "reply_ok",
    message_id: messageId,
    conversation_id: str(o, "contextId") ?? taskId,
    task_id: taskId,
    attempt: 1,
    payload: o,
  };
  return { ok: true, message };
}

/** A `Task` (`id`) or a status update (`taskId`): how the task stands */
function readStatus(o: Json, version: A2aVersion, taskKey: "id" | "taskId"): DialectRead {
  const taskId = str(o, taskKey);
  if (taskId === undefined) {
    return { ok: false, reason: `"${taskKey}" must be a non-empty string` };
  }
  const status = o["status"];
  if (!isRecord(status) || typeof status["state"] !== "string") {
    return { ok: false, reason: `"status.state" must be a TaskState name` };
  }
  const state = stateName(status["state"]);
  const meaning = STATES[state];
  if (meaning === undefined) {
    return {
      ok: false,
      reason: `"status.state" ${JSON.stringify(status["state"])} is no TaskState`,
    };
  }
  const said = status["message"];
  const text = partsText(said);
  const timestamp = typeof status["timestamp"] === "string" &&
      !Number.isNaN(Date.parse(status["timestamp"]))
    ? new Date(status["timestamp"]).toISOString()
    : undefined;
  const saidId = isRecord(said) ? str(said, "messageId") : undefined;
  const message: NormalizedMessage = {
    dialect: version,
    kind: meaning.kind,
    // A task has no message id: its status message's, else one per state and time of the task
    message_id: saidId ?? `${taskId}:${state}:${timestamp ?? ""}`,
    conversation_id: str(o, "contextId") ?? taskId,
    task_id: taskId,
    attempt: 1,
    payload: o,
  };
  const asked = askedBy(o["history"]);
  if (asked !== undefined) message.in_reply_to = asked;
  if (timestamp !== undefined) message.created_at = timestamp;
  if (meaning.waiting_on !== undefined) message.waiting_on = meaning.waiting_on;
  if (meaning.kind === "reply_failed") {
    message.error = failureOf(text === "" ? `task ${meaning.failure}` : text);
  }
  return { ok: true, message };
}

function readArtifact(o: Json, version: A2aVersion): DialectRead {
  const taskId = str(o, "taskId");
  if (taskId === undefined) return { ok: false, reason: `"taskId" must be a non-empty string` };
  const artifact = isRecord(o["artifact"]) ? o["artifact"] : {};
  const artifactId = str(artifact, "artifactId") ?? "";
  return {
    ok: true,
    message: {
      dialect: version,
      kind: "other",
      message_id: `${taskId}:artifact:${artifactId}`,
      conversation_id: str(o, "contextId") ?? taskId,
      task_id: taskId,
      attempt: 1,
      payload: o,
    },
  };
}

/** v0.3 objects say what they are in `kind` */
function readV03(o: Json, kind: string): DialectRead {
  switch (kind) {
    case "message":
      return readMessage(o, "a2a-v0.3");
    case "task":
      return readStatus(o, "a2a-v0.3", "id");
    case "status-update":
      return readStatus(o, "a2a-v0.3", "taskId");
    case "artifact-update":
      return readArtifact(o, "a2a-v0.3");
    default:
      return {
        ok: false,
        reason: `"kind" must be message, task, status-update or artifact-update, got "${kind}"`,
      };
  }
}

/** Reads one A2A object (either version), or says why the value is none */
export function readA2a(value: unknown): DialectRead {
  if (!isRecord(value)) return { ok: false, reason: "an A2A object is a JSON object" };
  if (typeof value["kind"] === "string") return readV03(value, value["kind"]);
  // v1.0 wrappers: SendMessageRequest, SendMessageResponse, StreamResponse
  // (the object inside says its own version: a v0.3 one has its `kind`)
  if (isRecord(value["message"])) return readA2a(value["message"]);
  if (isRecord(value["task"])) return readA2a(value["task"]);
  if (isRecord(value["statusUpdate"])) return readStatus(value["statusUpdate"], "a2a-v1", "taskId");
  if (isRecord(value["artifactUpdate"])) return readArtifact(value["artifactUpdate"], "a2a-v1");
  if ("messageId" in value && "role" in value) return readMessage(value, "a2a-v1");
  if ("status" in value && typeof value["id"] === "string") {
    return readStatus(value, "a2a-v1", "id");
  }
  if ("status" in value && typeof value["taskId"] === "string") {
    return readStatus(value, "a2a-v1", "taskId");
  }
  return {
    ok: false,
    reason: "no A2A Message (messageId, role), Task (id, status) or status update (taskId, status)",
  };
}
