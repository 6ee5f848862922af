/**
 * Text output of the oracle's documents: short lines a person or a coding agent can scan. Every
 * value goes through `s`, which escapes control characters: a record cannot clear the screen or
 * forge a line of this output.
 */

import type { Document } from "./output_document.ts";
import { escapeControl } from "./escape_control.ts";
import { isRecord } from "@mat/agents/support";

function list(doc: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const v = doc[key];
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/** A value as text, its control characters escaped */
function s(v: unknown): string {
  if (v === null || v === undefined) return "-";
  return escapeControl(typeof v === "string" ? v : JSON.stringify(v));
}

/** The line saying how many rows of a list were left out (`key`: its count), if any */
function omitted(
  doc: Record<string, unknown>,
  what: string,
  key = "omitted",
  indent = "",
): string[] {
  const n = typeof doc[key] === "number" ? doc[key] : 0;
  return n > 0 ? [`${indent}... ${n} more ${what} not shown (raise --limit)`] : [];
}

/** A count with its unit: `3 message(s)` */
function count(v: unknown, unit: string): string {
  return `${s(v)} ${unit}(s)`;
}

/** A time in ms with its unit, "-" when there is none */
function ms(v: unknown): string {
  return v === null || v === undefined ? "-" : `${s(v)} ms`;
}

/** An agent's status with where it came from: `down (processes: no process running: ...)` */
function agentStatusText(a: Record<string, unknown>): string {
  const source = a["status_source"] === "consumer_group" ? "consumer group" : s(a["status_source"]);
  return a["status_reason"] === undefined
    ? s(a["status"])
    : `${s(a["status"])} (${source}: ${s(a["status_reason"])})`;
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
          } task(s) lost, ${s(impact["messages_waiting"])} message(s) waiting${
            Number(impact["requests_delayed"] ?? 0) > 0
              ? `, ${s(impact["requests_delayed"])} user request(s) delayed`
              : ""
          }`,
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
      out.push(...omitted(doc, "incident(s)"));
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
          } ${count(e["count"], "occurrence")} ${s(e["first_seen"])} .. ${s(e["last_seen"])}`,
        );
        out.push(`   ${s(e["message"])}`);
      }
      out.push(...omitted(doc, "error fold(s)"));
      break;
    case "queues":
      for (const q of list(doc, "queues")) {
        const st = s(q["status"]);
        // No group reads it: "(none)"; where the group came from, when the history says
        const group = q["group"] === "" ? "(none)" : s(q["group"]);
        const source = typeof q["group_source"] === "string" && q["group_source"] !== "none"
          ? ` (${q["group_source"]})`
          : "";
        const oldest = q["oldest_unconsumed_age_ms"] === null
          ? "-"
          : `${q["older_than_window"] ? ">" : ""}${
            Math.round(Number(q["oldest_unconsumed_age_ms"]) / 1000)
          } s`;
        out.push(
          `${s(q["topic"])} group=${group}${source} ${
            style.severity(st === "OK" ? "info" : "error", st)
          }: ${count(q["depth"], "message")} waiting (lag trend ${
            s(q["lag_trend"])
          }), oldest waiting ${oldest}, ${count(q["consumers"], "consumer")} (${
            s(q["status_reason"])
          })`,
        );
        for (const p of Array.isArray(q["partitions"]) ? q["partitions"].filter(isRecord) : []) {
          out.push(
            `   p${s(p["partition"])}: end offset ${s(p["high"])}, committed ${
              s(p["committed"])
            }, ${count(p["lag"], "message")} waiting`,
          );
        }
        out.push(...omitted(q, "partition(s)", "partitions_omitted", "   "));
      }
      if (list(doc, "queues").length === 0) out.push("No queue sampled yet");
      out.push(...omitted(doc, "queue(s)"));
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
      out.push(...omitted(doc, "event(s)"));
      break;
    }
    case "state": {
      const st = isRecord(doc["state"]) ? doc["state"] : {};
      out.push(`state at ${s(doc["at"])} (rebuilt from ${s(doc["rebuilt_from"])})`);
      out.push(
        `${count(st["messages_seen"], "message")} seen, ${s(st["malformed_seen"])} malformed`,
      );
      for (const a of list(st, "agents")) {
        out.push(
          `agent ${s(a["agent"])}: ${agentStatusText(a)}; ${
            count(a["in_flight"], "task")
          } in flight, ${s(a["tasks_completed"])} completed, ${s(a["tasks_failed"])} failed, ${
            s(a["tasks_stuck"])
          } stuck`,
        );
      }
      out.push(...omitted(st, "agent(s)", "agents_omitted"));
      for (const q of list(st, "queues")) {
        out.push(
          `queue ${s(q["topic"])} group=${q["group"] === "" ? "(none)" : s(q["group"])}: ${
            s(q["status"])
          }, ${count(q["lag"], "message")} waiting`,
        );
      }
      out.push(...omitted(st, "queue(s)", "queues_omitted"));
      out.push(
        `${count(st["handoffs_open_total"], "open handoff")}, ${
          count(st["errors_total"], "error fold")
        }`,
      );
      out.push(`error counts (occurrences): ${s(st["error_counts"])}`);
      break;
    }
    case "trace": {
      out.push(`${s(doc["id"])} (conversation ${s(doc["conversation_id"])}): ${s(doc["verdict"])}`);
      const blamed = isRecord(doc["blamed"]) ? doc["blamed"] : undefined;
      for (const h of list(doc, "hops")) {
        const isBlamed = blamed !== undefined && h["task_id"] === blamed["task_id"] &&
          h["attempt"] === blamed["attempt"];
        out.push(
          `  ${s(h["from"])} -> ${s(h["to"])} task=${s(h["task_id"])} attempt=${s(h["attempt"])} ${
            s(h["outcome"])
          }${h["latency_ms"] !== null ? ` in ${ms(h["latency_ms"])}` : ""}${
            h["error"] ? ` ${s(h["error"])}` : ""
          }${isBlamed ? "  <- its failure reached the requester" : ""}`,
        );
      }
      out.push(...omitted(doc, "hop(s)"));
      break;
    }
    case "agents":
      for (const a of list(doc, "agents")) {
        out.push(
          `${s(a["agent"])}: ${agentStatusText(a)}; ${
            a["consumers"] === null
              ? "no consumer group sampled"
              : count(a["consumers"], "consumer")
          }; last seen ${s(a["last_seen"])}; ${count(a["in_flight"], "task")} in flight; tasks: ${
            s(a["tasks_received"])
          } received, ${s(a["tasks_completed"])} completed, ${s(a["tasks_failed"])} failed, ${
            s(a["tasks_stuck"])
          } stuck; latency p50 ${ms(a["latency_ms_p50"])}, p95 ${ms(a["latency_ms_p95"])}`,
        );
        for (const p of list(a, "processes")) {
          const t = isRecord(p["last_termination"]) ? p["last_termination"] : undefined;
          out.push(
            `   ${s(p["process"])} (${s(p["source"])}): ${s(p["status"])}, ${
              count(p["restart_count"], "restart")
            }${
              t
                ? `, last exit: ${s(t["reason"])} code=${s(t["exit_code"])} signal=${
                  s(t["signal"])
                } at ${s(t["at"])}`
                : ""
            }${Number(p["tasks_lost"]) > 0 ? `, ${count(p["tasks_lost"], "task")} lost` : ""}`,
          );
        }
        out.push(...omitted(a, "process(es)", "processes_omitted", "   "));
      }
      if (list(doc, "agents").length === 0) out.push("No agent seen yet");
      out.push(...omitted(doc, "agent(s)"));
      break;
    case "llm": {
      const kinds = (u: Record<string, unknown>) =>
        isRecord(u["error_kinds"]) && Object.keys(u["error_kinds"]).length > 0
          ? ` by kind ${s(u["error_kinds"])}`
          : "";
      for (const u of list(doc, "usage")) {
        if (u["usage_reported"] === false) {
          out.push(
            `${s(u["agent"])}: usage unknown (no reply carried it), ${
              count(u["llm_errors"], "failed call")
            }${kinds(u)}`,
          );
          continue;
        }
        out.push(
          `${s(u["agent"])} ${s(u["model"])}: ${count(u["calls"], "call")}, ${
            s(u["input_tokens"])
          } input + ${s(u["output_tokens"])} output tokens, cost $${s(u["cost_usd"])}, ${
            ms(u["latency_ms_avg"])
          } per call on average, ${count(u["llm_errors"], "failed call")} (error rate ${
            (Number(u["error_rate"]) * 100).toFixed(1)
          }%)${kinds(u)}`,
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
      out.push(...omitted(doc, "usage row(s)"));
      out.push(...omitted(doc, "agent(s) without usage", "without_usage_omitted"));
      break;
    }
    default:
      out.push(escapeControl(JSON.stringify(doc, null, 2)));
  }
  out.push(...readerNotes(doc));
  return out.join("\n") + "\n";
}
