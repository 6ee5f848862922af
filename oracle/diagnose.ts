/**
 * `diagnose`: the root causes of what went wrong in a window of history (default: its last 15
 * minutes), as incidents. The rules read the window (rules/*.ts), the incident builder groups what
 * they found by cause (incidents.ts), and the document stays under DIAGNOSE_MAX_CHARS, saying what
 * it left out.
 */

import type { Document } from "./output_document.ts";
import { type Finding, type HealthStatus, iso } from "./finding.ts";
import { groupIncidents, type Incident, statusOf } from "./incidents.ts";
import type { Invocation } from "./cli_args.ts";
import { UNDERMINING } from "./reader_notes.ts";
import { churnRules } from "./rules/churn.ts";
import { errorRules } from "./rules/errors.ts";
import { handoffRules } from "./rules/handoffs.ts";
import { type HistoryContext, historyRules } from "./rules/history.ts";
import { processRules } from "./rules/processes.ts";
import { weighOutages } from "./rules/outage_cost.ts";
import { queueRules } from "./rules/queues.ts";
import { THRESHOLDS } from "./thresholds.ts";
import { messagesIn, requestsIn } from "./window_work.ts";
import type { TimeMachine } from "./time_machine.ts";
import { gatherFacts, type WindowFacts, windowOf } from "./window_facts.ts";

/** `diagnose --format json` stays under this many characters */
export const DIAGNOSE_MAX_CHARS = 7_500;
/** Symptoms shown per incident, and notes shown, before they are counted instead */
const SYMPTOMS_SHOWN = 4;
const NOTES_SHOWN = 3;

/** What diagnose knows beside the window's facts: what the history rules need */
export type DiagnoseContext = HistoryContext;

/** Every finding of the window, from every rule */
export function findingsOf(facts: WindowFacts, ctx: DiagnoseContext): Finding[] {
  return [
    ...queueRules(facts, ctx.oracle),
    ...churnRules(facts, ctx.oracle),
    ...processRules(facts, ctx.oracle),
    ...handoffRules(facts, ctx.oracle),
    ...errorRules(facts, ctx.oracle),
    ...historyRules(facts, ctx),
  ];
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

function rootView(f: Finding) {
  return {
    kind: f.kind,
    severity: f.severity,
    agent: f.agent,
    process: f.process,
    summary: cut(f.summary, 400),
    since: f.since,
    until: f.until,
    evidence: f.evidence,
    next_commands: f.next_commands,
  };
}

function symptomView(f: Finding) {
  return {
    kind: f.kind,
    severity: f.severity,
    agent: f.agent,
    summary: cut(f.summary, 200),
    since: f.since,
    until: f.until,
    seqs: f.evidence.seqs.slice(0, 3),
    seqs_total: f.evidence.seqs_total,
  };
}

function incidentView(i: Incident, rank: number, symptoms: number) {
  return {
    rank,
    severity: i.severity,
    state: i.resolved ? "resolved" : "ongoing",
    chain: i.chain,
    impact: i.impact,
    root_cause: rootView(i.root),
    symptoms: i.symptoms.slice(0, symptoms).map(symptomView),
    symptoms_total: i.symptoms.length,
  };
}

function noteView(f: Finding) {
  return { kind: f.kind, agent: f.agent, summary: cut(f.summary, 240), since: f.since };
}

export async function runDiagnose(
  tm: TimeMachine,
  inv: Invocation,
  head: (asOf: number) => Document,
  ctx: Omit<DiagnoseContext, "empty" | "skippedLines" | "skippedWhere" | "chosenEnd">,
): Promise<Document> {
  const [from, to] = windowOf(tm, {
    ...(inv.after !== undefined ? { after: inv.after } : {}),
    ...(inv.before !== undefined ? { before: inv.before } : {}),
  });
  const facts = await gatherFacts(tm, from, to);
  const found = findingsOf(facts, {
    ...ctx,
    empty: tm.empty,
    skippedLines: tm.report.total,
    skippedWhere: tm.report.where,
    chosenEnd: inv.before !== undefined,
  });
  const all = await weighOutages(found, tm, facts.userInbox);
  const work = { messages: messagesIn(facts), requests: requestsIn(facts) };
  const { incidents, notes, findings } = groupIncidents(all, { requests: work.requests });
  // No incident is not "healthy" when the history read may miss records: then it is unknown, and
  // incidents found anyway stand, with a word on what could not be checked
  const judged = statusOf(incidents);
  const undermined = tm.report.undermined;
  const status: HealthStatus = judged === "healthy" && undermined ? "unknown" : judged;
  const why = tm.report.notes.find((n) => UNDERMINING.has(n.kind))?.text ?? "";
  const first = incidents[0];
  const summary = tm.empty
    ? "No history yet: the time machine is empty"
    : status === "unknown"
    ? `Unknown: no incident found, but the history cannot support an answer: ${why}`
    : first === undefined
    ? `Healthy: ${facts.end.messages_seen} message(s) seen, no incident in the window`
    : `${incidents.length} incident(s); the first: ${first.chain}${
      undermined ? `. Not all of the history could be checked: ${why}` : ""
    }`;
  let shown = Math.min(inv.limit, incidents.length);
  let symptoms = SYMPTOMS_SHOWN;
  const doc = (): Document => ({
    ...head(facts.asOf),
    status,
    summary: cut(summary, 400),
    window: { after: iso(from), before: iso(to) },
    incidents: incidents.slice(0, shown).map((i, n) => incidentView(i, n + 1, symptoms)),
    incidents_total: incidents.length,
    omitted: incidents.length - shown,
    notes: notes.slice(0, NOTES_SHOWN).map(noteView),
    notes_total: notes.length,
    findings_total: findings,
    rebuilt_from: facts.rebuilt,
    // What severities were judged by: the window's work, and the thresholds
    work,
    thresholds: THRESHOLDS,
  });
  let out = doc();
  // Measured with what the read reported, which main.ts puts in the document's head
  const size = (d: Document) => JSON.stringify({ ...d, ...tm.report.toJson() }).length;
  while (size(out) > DIAGNOSE_MAX_CHARS && (symptoms > 1 || shown > 1)) {
    if (symptoms > 1) symptoms--;
    else shown--;
    out = doc();
  }
  return out;
}
