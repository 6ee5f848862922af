/**
 * Rules over the history itself (`observer_degraded`): empty, lines that cannot be read, a history
 * that stopped long before now (the observer is down, or this is an old copy), and observer
 * restarts inside the window (`info`: its position comes from its own files, nothing is lost).
 */

import { duration, evidence, type Finding, noImpact } from "../finding.ts";
import type { WindowFacts } from "../window_facts.ts";

/** A history whose newest record is older than this is flagged as stopped */
export const STALE_HISTORY_MS = 2 * 60_000;

export interface HistoryContext {
  /** Wall-clock now */
  now: number;
  empty: boolean;
  skippedLines: number;
  skippedWhere: string[];
  oracle: string;
  /** Whether the window was chosen (--before): then an old end is no news */
  chosenEnd: boolean;
}

function finding(
  partial: Pick<Finding, "severity" | "summary" | "short" | "since" | "next_commands">,
): Finding {
  return {
    kind: "observer_degraded",
    agent: null,
    process: null,
    until: null,
    evidence: evidence([]),
    impact: noImpact(),
    conversations: [],
    tasks: [],
    ...partial,
  };
}

export function historyRules(facts: WindowFacts, ctx: HistoryContext): Finding[] {
  const out: Finding[] = [];
  const o = ctx.oracle;
  if (ctx.empty) {
    out.push(finding({
      severity: "warning",
      summary: "The time machine is empty: the observer has not recorded anything here yet",
      short: "no history",
      since: null,
      next_commands: ["deno task observe", `${o} diagnose --data-dir <dir of the observer>`],
    }));
    return out;
  }
  if (ctx.skippedLines > 0) {
    out.push(finding({
      severity: "warning",
      summary: `${ctx.skippedLines} unreadable line(s) in the time machine, first at ${
        ctx.skippedWhere[0] ?? "?"
      }`,
      short: "unreadable history lines",
      since: null,
      next_commands: [`${o} state`],
    }));
  }
  if (!ctx.chosenEnd && Number.isFinite(facts.asOf) && ctx.now - facts.asOf > STALE_HISTORY_MS) {
    out.push(finding({
      severity: "info",
      summary: `The history ends at ${new Date(facts.asOf).toISOString()} (${
        duration(ctx.now - facts.asOf)
      } ago): the observer is not running, or this is an old copy`,
      short: "the history stopped",
      since: new Date(facts.asOf).toISOString(),
      next_commands: [`${o} replay -m 10`],
    }));
  }
  // The observer's consumer given up on by kafkajs, created again: nothing lost (it reads from its
  // own positions), but the witness did not read for a moment
  const crashes = facts.consumerRestarts;
  if (crashes.length > 0) {
    out.push({
      ...finding({
        severity: "info",
        summary:
          `The observer's Kafka consumer crashed for good ${crashes.length} time(s) in the ` +
          `window and was created again from its own positions (nothing lost): ${
            crashes.at(-1)?.error ?? ""
          }`,
        short: "the observer's consumer crashed",
        since: crashes[0]?.ts ?? null,
        next_commands: [`${o} diffs -e consumer_restarted`],
      }),
      until: crashes.at(-1)?.ts ?? null,
      evidence: evidence(crashes.map((r) => r.seq)),
    });
  }
  // A start that resumed partitions is a restart (the first start resumes none)
  const restarts = facts.observerStarts.filter((r) => r.resumed_partitions > 0);
  if (restarts.length > 0) {
    out.push({
      ...finding({
        severity: "info",
        summary: `The observer restarted ${restarts.length} time(s) in the window; it resumed ` +
          `from its own files (${restarts.at(-1)?.resumed_partitions ?? 0} partitions)`,
        short: "the observer restarted",
        since: restarts[0]?.ts ?? null,
        next_commands: [`${o} diffs -e observer_started`],
      }),
      until: restarts.at(-1)?.ts ?? null,
      evidence: evidence(restarts.map((r) => r.seq)),
    });
  }
  return out;
}
