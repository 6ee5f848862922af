/**
 * The thresholds `diagnose` judges by, named in one place and recorded with every verdict
 * (`thresholds` in its JSON). Severity comes from rates and cost, not counts: a share of what the
 * agent handled in the window, with an absolute floor so a quiet system is still judged and a
 * busy one does not fail on a handful of errors among thousands of messages.
 *
 * | name                  | what it means                                                        |
 * |-----------------------|----------------------------------------------------------------------|
 * | `min_events`          | occurrences a fault needs before it is an `error` (the floor)        |
 * | `warn_rate`           | share of the agent's work at which a fault is a `warning`            |
 * | `error_rate`          | share (with `min_events` occurrences) at which it is an `error`      |
 * | `transient_err_ms`    | an unreadable group readable again within this long is no fault      |
 * | `ongoing_ms`          | a fault seen this close to the window's end is still going on        |
 * | `crash_loop_deaths`   | deaths of one replica (it and its replacements) that make a loop     |
 * | `churn_joins`         | members joining a group beyond its replicas that make churn          |
 */

import type { Severity } from "@mat/observer";

export const THRESHOLDS = {
  min_events: 3,
  warn_rate: 0.005,
  error_rate: 0.05,
  transient_err_ms: 10_000,
  ongoing_ms: 30_000,
  crash_loop_deaths: 3,
  churn_joins: 3,
} as const;

export type Thresholds = { readonly [K in keyof typeof THRESHOLDS]: number };

/** How many of how many, as the words a finding says it in: `3 of 40 (7.5%)` */
export function share(count: number, total: number): string {
  if (total <= 0) return `${count}`;
  const pct = (100 * count) / total;
  const shown = pct >= 10 ? pct.toFixed(0) : pct >= 0.1 ? pct.toFixed(1) : pct.toFixed(3);
  return `${count} of ${total} (${shown}%)`;
}

/**
 * The severity of `count` occurrences among `total` units of work (the total is at least the
 * count: work the observer did not see counted is work the occurrences were of): an `error` at
 * `error_rate` with `min_events` occurrences or more, a `warning` at `warn_rate`, else `info`
 */
export function rateSeverity(count: number, total: number, t: Thresholds = THRESHOLDS): Severity {
  const of = Math.max(total, count, 1);
  const rate = count / of;
  if (count >= t.min_events && rate >= t.error_rate) return "error";
  if (rate >= t.warn_rate) return "warning";
  return "info";
}

/**
 * Failed user requests are what users saw: a warning at least, an error at `error_rate` of all
 * requests, however few (each one is a user who saw the failure)
 */
export function requestSeverity(failed: number, requests: number): Severity {
  return rateSeverity(failed, requests, { ...THRESHOLDS, min_events: 1 }) === "error"
    ? "error"
    : "warning";
}
