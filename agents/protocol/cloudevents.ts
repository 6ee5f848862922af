/**
 * CloudEvents on Kafka, after the CloudEvents Kafka Protocol Binding (v1.0.x):
 * - binary content mode (section 3.2): the record's value is the event's `data`; each context
 *   attribute is a header `ce_<name>` (`ce_specversion`, `ce_type`, `ce_source`, `ce_id`,
 *   `ce_time`, `ce_subject`...); `content-type` is `datacontenttype`;
 * - structured content mode (section 3.3): `content-type` is `application/cloudevents+json` and
 *   the value is the whole event in the JSON event format, `data` (or `data_base64`) inside.
 * The distributed-tracing extension's `traceparent` (`ce_traceparent` in binary mode) is kept. The
 * `data` is then read by the dialects of the message inside (ours, A2A, a declared mapping): a
 * CloudEvent is an envelope around a message, not a message of its own.
 */

import { isRecord } from "../is_record.ts";
import type { CloudEventAttributes } from "./normalized.ts";

export type CloudEventMode = "cloudevents-binary" | "cloudevents-structured";

export interface CloudEvent {
  mode: CloudEventMode;
  attributes: CloudEventAttributes;
  /** The event's data, parsed when it is JSON */
  data: unknown;
  traceparent?: string;
}

export type CloudEventRead =
  | { ok: true; event: CloudEvent }
  | { ok: false; reason: string };

const STRUCTURED = /^application\/cloudevents\+json\b/i;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b|^text\/json\b/i;

/** Whether the record's headers put it in binary mode */
export function isBinaryCloudEvent(headers: Readonly<Record<string, string>>): boolean {
  return headers["ce_specversion"] !== undefined;
}

/** Whether the record says it holds a structured event (its content type, or its JSON shape) */
export function isStructuredCloudEvent(
  headers: Readonly<Record<string, string>>,
  json: unknown,
): json is Record<string, unknown> {
  if (!isRecord(json)) return false;
  if (STRUCTURED.test(headers["content-type"] ?? "")) return true;
  return typeof json["specversion"] === "string" && typeof json["type"] === "string" &&
    typeof json["source"] === "string" && typeof json["id"] === "string";
}

function required(
  get: (name: string) => unknown,
  mode: CloudEventMode,
): CloudEventAttributes | string {
  const missing = ["specversion", "type", "source", "id"].filter((n) => {
    const v = get(n);
    return typeof v !== "string" || v === "";
  });
  if (missing.length > 0) {
    const names = missing.map((n) => mode === "cloudevents-binary" ? `ce_${n}` : `"${n}"`);
    return `CloudEvent (${mode.slice(12)} mode) lacks ${names.join(", ")}`;
  }
  const attributes: CloudEventAttributes = {
    type: String(get("type")),
    source: String(get("source")),
    id: String(get("id")),
  };
  const subject = get("subject");
  if (typeof subject === "string" && subject !== "") attributes.subject = subject;
  const time = get("time");
  if (typeof time === "string" && !Number.isNaN(Date.parse(time))) {
    attributes.time = new Date(time).toISOString();
  }
  return attributes;
}

/**
 * A header's value; the npm `cloudevents` binding writes every attribute it lacks as the text
 * "undefined", which says nothing
 */
function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const v = headers[name];
  return v === undefined || v === "" || v === "undefined" || v === "null" ? undefined : v;
}

/** A binary-mode event: attributes from `ce_*` headers, `data` the record's value (as text) */
export function binaryCloudEvent(
  headers: Readonly<Record<string, string>>,
  text: string,
): CloudEventRead {
  const attributes = required((n) => header(headers, `ce_${n}`), "cloudevents-binary");
  if (typeof attributes === "string") return { ok: false, reason: attributes };
  const type = header(headers, "content-type") ?? header(headers, "ce_datacontenttype") ??
    "application/json";
  if (!JSON_TYPE.test(type)) {
    return { ok: false, reason: `CloudEvent data is "${type}", not JSON` };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof SyntaxError ? err.message : String(err);
    return { ok: false, reason: `CloudEvent data is not JSON: ${detail}` };
  }
  const event: CloudEvent = { mode: "cloudevents-binary", attributes, data };
  const traceparent = header(headers, "ce_traceparent");
  if (traceparent !== undefined) event.traceparent = traceparent;
  return { ok: true, event };
}

/** A structured-mode event: the whole event in the value, `data` or `data_base64` inside */
export function structuredCloudEvent(json: Record<string, unknown>): CloudEventRead {
  const attributes = required((n) => json[n], "cloudevents-structured");
  if (typeof attributes === "string") return { ok: false, reason: attributes };
  let data: unknown = json["data"];
  const base64 = json["data_base64"];
  if (data === undefined && typeof base64 === "string") {
    try {
      data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)),
      ));
    } catch {
      return { ok: false, reason: `CloudEvent "data_base64" is not base64 of JSON text` };
    }
  }
  const type = json["datacontenttype"];
  if (typeof data === "string" && typeof type === "string" && JSON_TYPE.test(type)) {
    // Some producers put JSON data as a string
    try {
      data = JSON.parse(data);
    } catch {
      // a string it stays: the dialects inside say why they cannot read it
    }
  }
  const event: CloudEvent = { mode: "cloudevents-structured", attributes, data };
  if (typeof json["traceparent"] === "string") event.traceparent = json["traceparent"];
  return { ok: true, event };
}
