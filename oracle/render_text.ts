/**
 * Text output of the oracle's documents: short lines a person or a coding agent can scan. Every
 * value goes through `s`, which escapes control characters: a record cannot clear the screen or
 * forge a line of this output.
 */

import type { Document } from "./output_document.ts";
import { escapeControl } from "./escape_control.ts";
import { isRecord } from "@mat/agents/support";

function list(doc: Document, key: string): Record<string, unknown>[] {
  const v = doc[key];
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/** A value as text, its control characters escaped */
function s(v: unknown): string {
  if (v === null || v === undefined) return "-";
  return escapeControl(typeof v === "string" ? v : JSON.stringify(v));
}

function omitted(doc: Document, what: string): string[] {
  const n = typeof doc["omitted"] === "number" ? doc["omitted"] : 0;
  return n > 0 ? [`... ${n} more ${what} not shown (raise --limit)`] : [];
}

export interface Style {
  bold(t: string): string;
  severity(sev: string, t: string): string;
}

export const PLAIN: Style = { bold: (t) => t, severity: (_s, t) => t };

export const ANSI: Style = {
  bold: (t) => `\x1b[1m${t}\x1b[22m`,
  severity: (sev, t) => {
    const code = sev === "critical" || sev === "failing"
      ? 31
      : sev === "error"
      ? 91
      : sev === "warning" || sev === "degraded" || sev === "unknown"
      ? 33
      : 32;
    return `\x1b[${code}m${t}\x1b[39m`;
  },
};

function recordLine(r: Record<string, unknown>): string {
  const { schema_version: _v, seq, ts, type, ...rest } = r;
  const detail = Object.entries(rest)
    .filter(([k]) => !["payload_preview", "value_preview", "positions", "members"].includes(k))
    .map(([k, v]) => `${s(k)}=${s(v)}`)
    .join(" ");
  return `#${s(seq)} ${s(ts)} ${s(type)} ${detail}`.slice(0, 300);
}

/** The reader's notes on the history, after the answer: what it could not read or check */
function readerNotes(doc: Document): string[] {
  const r: Record<string, unknown> = isRecord(doc["reader_notes"]) ? doc["reader_notes"] : {};
  const notes = Array.isArray(r["notes"]) ? r["notes"].filter(isRecord) : [];
  if (notes.length === 0) return [];
  const out = ["", "reader notes (what the history could not tell):"];
  for (const n of notes) {
    const place = typeof n["file"] === "string"
      ? ` (${s(n["file"])}${typeof n["offset"] === "number" ? `:${n["offset"]}` : ""})`
      : "";
    out.push(`  - ${s(n["kind"])}: ${s(n["text"])}${place}`);
  }
  const more = Number(r["omitted"]);
  if (more > 0) out.push(`  ... ${more} more note(s) not shown (--format json has them counted)`);
  return out;
}

export function renderText(doc: Document, style: Style = PLAIN): string {
  const out: string[] = [];
  const asOf = doc.as_of ? ` (history as of ${s(doc.as_of)})` : "";
  switch (doc.command) {
    case "diagnose": {
      const status = s(doc["status"]);
      const w = isRecord(doc["window"]) ? doc["window"] : {};
      out.push(`${style.bold("status:")} ${style.severity(status, status.toUpperCase())}${asOf}`);
      out.push(`window: ${s(w["after"])} .. ${s(w["before"])}`);
      out.push(s(doc["summary"]));
      for (const i of list(doc, "incidents")) {
        const sev = s(i["severity"]);
        const root = isRecord(i["root_cause"]) ? i["root_cause"] : {};
        const impact = isRecord(i["impact"]) ? i["impact"] : {};
        out.push("");
        out.push(
          `${s(i["rank"])}. ${style.severity(sev, `[${sev}]`)} ${
            style.bold(s(root["kind"]))
          } agent=${s(root["agent"])}${
            root["process"] ? ` process=${s(root["process"])}` : ""
          } since=${s(root["since"])} ${
            i["state"] === "resolved" ? `resolved at ${s(root["until"])}` : "ongoing"
          }`,
        );
        out.push(`   ${s(root["summary"])}`);
        out.push(`   chain: ${s(i["chain"])}`);
        out.push(
          `   impact: ${s(impact["requests_failed"])} user request(s) failed, ${
            s(impact["tasks_lost"])
          } task(s) lost, ${s(impact["messages_waiting"])} message(s) waiting`,
        );
        const ev = isRecord(root["evidence"]) ? root["evidence"] : {};
        const seqs = Array.isArray(ev["seqs"]) ? ev["seqs"] : [];
        const offs = Array.isArray(ev["offsets"]) ? ev["offsets"].filter(isRecord) : [];
        if (seqs.length || offs.length) {
          const o = offs.map((p) => `${s(p["topic"])}/${s(p["partition"])}@${s(p["offset"])}`);
          out.push(`   evidence: ${[...seqs.map((q) => `seq ${s(q)}`), ...o].join(", ")}`);
        }
        const symptoms = list({ ...doc, symptoms: i["symptoms"] }, "symptoms");
        if (symptoms.length > 0) out.push("   symptoms (explained by the cause above):");
        for (const y of symptoms) {
          out.push(
            `     - [${s(y["severity"])}] ${s(y["kind"])} agent=${s(y["agent"])}: ${
              s(y["summary"])
            }`,
          );
        }
        const more = Number(i["symptoms_total"]) - symptoms.length;
        if (more > 0) out.push(`     ... ${more} more symptom(s) not shown`);
        const next = Array.isArray(root["next_commands"]) ? root["next_commands"] : [];
        if (next.length) out.push(`   next: ${next.map(s).join("  |  ")}`);
      }
      out.push(...omitted(doc, "incidents"));
      const notes = list(doc, "notes");
      if (notes.length > 0) {
        out.push("");
        out.push("notes (over, or no fault on their own):");
        for (const n of notes) {
          out.push(`  - ${s(n["kind"])} agent=${s(n["agent"])}: ${s(n["summary"])}`);
        }
      }
      break;
    }
    case "errors":
      out.push(`${s(doc["total"])} error(s), ${s(doc["occurrences"])} occurrence(s)${asOf}`);
      for (const e of list(doc, "errors")) {
        const sev = s(e["severity"]);
        out.push(
          `${style.severity(sev, `[${sev}]`)} ${s(e["category"])}/${s(e["kind"])} agent=${
            s(e["agent"])
          } x${s(e["count"])} ${s(e["first_seen"])} .. ${s(e["last_seen"])}`,
        );
        out.push(`   ${s(e["message"])}`);
      }
      out.push(...omitted(doc, "errors"));
      break;
    case "queues":
      for (const q of list(doc, "queues")) {
        const st = s(q["status"]);
        // No group reads it: "(none)"; where the group came from, when the history says
        const group = q["group"] === "" ? "(none)" : s(q["group"]);
        const source = typeof q["group_source"] === "string" && q["group_source"] !== "none"
          ? ` (${q["group_source"]})`
          : "";
        out.push(
          `${s(q["topic"])} group=${group}${source} ${
            style.severity(st === "OK" ? "info" : "error", st)
          } depth=${s(q["depth"])} lag=${s(q["lag"])} (${s(q["lag_trend"])}) oldest=${
            q["oldest_unconsumed_age_ms"] === null
              ? "-"
              : `${q["older_than_window"] ? ">" : ""}${
                Math.round(Number(q["oldest_unconsumed_age_ms"]) / 1000)
              }s`
          } consumers=${s(q["consumers"])} (${s(q["status_reason"])})`,
        );
        for (const p of Array.isArray(q["partitions"]) ? q["partitions"].filter(isRecord) : []) {
          out.push(
            `   p${s(p["partition"])}: high=${s(p["high"])} committed=${s(p["committed"])} lag=${
              s(p["lag"])
            }`,
          );
        }
      }
      if (list(doc, "queues").length === 0) out.push("No queue sampled yet");
      break;
    case "replay":
    case "diffs": {
      const w = isRecord(doc["window"]) ? doc["window"] : {};
      if (doc.command === "replay") {
        out.push(`window ${s(w["after"])} .. ${s(w["before"])}: ${s(doc["total"])} event(s)`);
        const st = isRecord(doc["state_at_start"]) ? doc["state_at_start"] : undefined;
        if (st) {
          out.push(
            `state at start: ${s(st["messages_seen"])} messages seen, ${
              s(st["handoffs_open_total"])
            } open handoffs, ${s(st["errors_total"])} errors`,
          );
        }
      } else {
        out.push(`${s(doc["total"])} event(s)`);
      }
      for (const e of list(doc, "events")) out.push(recordLine(e));
      out.push(...omitted(doc, "events"));
      break;
    }
    case "state": {
      const st = isRecord(doc["state"]) ? doc["state"] : {};
      out.push(`state at ${s(doc["at"])} (rebuilt from ${s(doc["rebuilt_from"])})`);
      out.push(`messages seen: ${s(st["messages_seen"])}, malformed: ${s(st["malformed_seen"])}`);
      for (const a of Array.isArray(st["agents"]) ? st["agents"].filter(isRecord) : []) {
        out.push(
          `agent ${s(a["agent"])}: ${s(a["status"])} in_flight=${s(a["in_flight"])} done=${
            s(a["tasks_completed"])
          } failed=${s(a["tasks_failed"])} stuck=${s(a["tasks_stuck"])}`,
        );
      }
      for (const q of Array.isArray(st["queues"]) ? st["queues"].filter(isRecord) : []) {
        out.push(`queue ${s(q["topic"])}: ${s(q["status"])} lag=${s(q["lag"])}`);
      }
      out.push(`open handoffs: ${s(st["handoffs_open_total"])}, errors: ${s(st["errors_total"])}`);
      out.push(`error counts: ${s(st["error_counts"])}`);
      break;
    }
    case "trace":
      out.push(`${s(doc["id"])} (conversation ${s(doc["conversation_id"])}): ${s(doc["verdict"])}`);
      for (const h of list(doc, "hops")) {
        out.push(
          `  ${s(h["from"])} -> ${s(h["to"])} task=${s(h["task_id"])} attempt=${s(h["attempt"])} ${
            s(h["outcome"])
          }${h["latency_ms"] !== null ? ` ${s(h["latency_ms"])}ms` : ""}${
            h["error"] ? ` ${s(h["error"])}` : ""
          }`,
        );
      }
      out.push(...omitted(doc, "hops"));
      break;
    case "agents":
      for (const a of list(doc, "agents")) {
        out.push(
          `${s(a["agent"])}: ${s(a["status"])} last_seen=${s(a["last_seen"])} in_flight=${
            s(a["in_flight"])
          } tasks=${s(a["tasks_received"])} done=${s(a["tasks_completed"])} failed=${
            s(a["tasks_failed"])
          } stuck=${s(a["tasks_stuck"])} p50=${s(a["latency_ms_p50"])}ms p95=${
            s(a["latency_ms_p95"])
          }ms`,
        );
        for (const p of Array.isArray(a["processes"]) ? a["processes"].filter(isRecord) : []) {
          const t = isRecord(p["last_termination"]) ? p["last_termination"] : undefined;
          out.push(
            `   ${s(p["process"])} (${s(p["source"])}): ${s(p["status"])} restarts=${
              s(p["restart_count"])
            }${
              t
                ? ` last exit: ${s(t["reason"])} code=${s(t["exit_code"])} signal=${
                  s(t["signal"])
                } at ${s(t["at"])}`
                : ""
            }${Number(p["tasks_lost"]) > 0 ? ` tasks lost: ${s(p["tasks_lost"])}` : ""}`,
          );
        }
      }
      if (list(doc, "agents").length === 0) out.push("No agent seen yet");
      out.push(...omitted(doc, "agents"));
      break;
    case "llm":
      for (const u of list(doc, "usage")) {
        if (u["usage_reported"] === false) {
          out.push(
            `${s(u["agent"])}: usage unknown (no reply carried it) errors=${s(u["llm_errors"])}${
              isRecord(u["error_kinds"]) && Object.keys(u["error_kinds"]).length > 0
                ? ` ${s(u["error_kinds"])}`
                : ""
            }`,
          );
          continue;
        }
        out.push(
          `${s(u["agent"])} ${s(u["model"])}: calls=${s(u["calls"])} tokens=${
            s(u["input_tokens"])
          }+${s(u["output_tokens"])} cost=$${s(u["cost_usd"])} avg=${
            s(u["latency_ms_avg"])
          }ms errors=${s(u["llm_errors"])} (${s(u["error_rate"])})${
            isRecord(u["error_kinds"]) && Object.keys(u["error_kinds"]).length > 0
              ? ` ${s(u["error_kinds"])}`
              : ""
          }`,
        );
      }
      if (list(doc, "usage").length === 0 && list(doc, "without_usage").length === 0) {
        out.push("No LLM usage seen yet");
      }
      for (const w of list(doc, "without_usage")) {
        out.push(
          `${s(w["agent"])}: ${
            s(w["replies"])
          } replies, none saying what LLM use they cost (its messages carry no usage, as A2A's do not): unknown, not zero`,
        );
      }
      out.push(...omitted(doc, "usage rows"));
      break;
    default:
      out.push(escapeControl(JSON.stringify(doc, null, 2)));
  }
  out.push(...readerNotes(doc));
  return out.join("\n") + "\n";
}
