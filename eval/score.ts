/**
 * Scores one `diagnose --format json` answer against a scenario's expectation, the way ITBench
 * scores root-cause answers: the rank of the expected cause among the incidents shown, precision
 * (0 when the cause is missing, else 1 / incidents shown), and false criticals (critical incidents
 * whose root cause is not the expected one; any critical in a control, or where the expectation
 * says `noCritical`: such a scenario is not ok with one).
 */

import { compareSeverity, isSeverity } from "@mat/observer";
import type { Expectation } from "./scenarios.ts";
import { isRecord } from "@mat/agents/support";

export interface CauseView {
  kind: string;
  agent: string | null;
  severity: string;
}

export interface Score {
  /** 1-based rank of the expected cause, null when missing (or, for a control, not healthy) */
  rank: number | null;
  incidents: number;
  findings: number;
  precision: number;
  falseCriticals: number;
  /** For a control: healthy with no warning or worse */
  ok: boolean;
  status: string;
  top: string;
}

function causeOf(v: unknown): CauseView | undefined {
  if (!isRecord(v)) return undefined;
  const root = isRecord(v["root_cause"]) ? v["root_cause"] : v;
  const { kind, agent, severity } = root;
  if (typeof kind !== "string" || typeof severity !== "string") return undefined;
  return { kind, agent: typeof agent === "string" ? agent : null, severity };
}

/** The root causes shown, in rank order */
export function causesOf(doc: Record<string, unknown>): CauseView[] {
  const list = Array.isArray(doc["incidents"]) ? doc["incidents"] : [];
  return list.map(causeOf).filter((c): c is CauseView => c !== undefined);
}

function findingsOf(doc: Record<string, unknown>): number {
  const incidents = Array.isArray(doc["incidents"]) ? doc["incidents"] : [];
  let n = 0;
  for (const i of incidents) {
    n += 1 + (isRecord(i) && Array.isArray(i["symptoms"]) ? i["symptoms"].length : 0);
  }
  return n;
}

export function score(doc: Record<string, unknown>, expect: Expectation): Score {
  const causes = causesOf(doc);
  const status = typeof doc["status"] === "string" ? doc["status"] : "?";
  const top = causes[0] ? `${causes[0].kind}:${causes[0].agent ?? "-"}` : "-";
  const base = { incidents: causes.length, findings: findingsOf(doc), status, top };
  if ("status" in expect) {
    const loud = causes.filter((c) =>
      isSeverity(c.severity) && compareSeverity(c.severity, "warning") <= 0
    );
    const ok = status === "healthy" && loud.length === 0;
    return {
      ...base,
      rank: ok ? 1 : null,
      precision: ok ? 1 : 0,
      falseCriticals: causes.filter((c) => c.severity === "critical").length,
      ok,
    };
  }
  const index = causes.findIndex((c) => c.kind === expect.kind && c.agent === expect.agent);
  const rank = index < 0 ? null : index + 1;
  const falseCriticals =
    causes.filter((c, i) =>
      c.severity === "critical" && (i !== index || expect.noCritical === true)
    ).length;
  return {
    ...base,
    rank,
    precision: rank === null ? 0 : 1 / causes.length,
    falseCriticals,
    ok: rank === 1 && (expect.noCritical !== true || falseCriticals === 0),
  };
}

export interface Summary {
  scenarios: number;
  top1: number;
  precision: number;
  falseCriticals: number;
}

export function summarise(scores: Score[]): Summary {
  const n = scores.length;
  return {
    scenarios: n,
    top1: n === 0 ? 0 : scores.filter((s) => s.rank === 1).length / n,
    precision: n === 0 ? 0 : scores.reduce((a, s) => a + s.precision, 0) / n,
    falseCriticals: scores.reduce((a, s) => a + s.falseCriticals, 0),
  };
}
