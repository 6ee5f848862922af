/**
 * What an outage of the broker that is over cost: the user requests in flight while no queue
 * could be read (open when it began, or when it ended) waited on it. An outage that delayed no
 * request is a note; one that delayed some is an incident (a warning), and it claims those
 * requests' conversations: what failed in them afterwards is its doing. Read from the observer's
 * state at the outage's two ends (two replays, only when there is an outage).
 */

import type { ObserverStateData } from "@mat/observer";
import { duration, type Finding, plural } from "../finding.ts";
import type { TimeMachine } from "../time_machine.ts";

type OpenHandoff = ObserverStateData["handoffs_open"][number];

/** The user requests open at `t` */
async function openRequests(tm: TimeMachine, t: number, userInbox: string): Promise<OpenHandoff[]> {
  const at = await tm.stateAt(t);
  return at.state.handoffs_open.filter((h) => h.from === userInbox);
}

export async function weighOutages(
  findings: Finding[],
  tm: TimeMachine,
  userInbox: string,
): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const f of findings) {
    if (f.kind !== "broker_unavailable" || f.since === null || f.until === null) {
      out.push(f);
      continue;
    }
    const since = Date.parse(f.since);
    const until = Date.parse(f.until);
    const open = new Map<string, OpenHandoff>();
    for (const h of await openRequests(tm, since, userInbox)) open.set(h.task_message_id, h);
    for (const h of await openRequests(tm, until, userInbox)) {
      if (Date.parse(h.created_at) <= until) open.set(h.task_message_id, h);
    }
    const delayed = [...open.values()];
    if (delayed.length === 0) {
      out.push({ ...f, summary: `${f.summary}; no user request was in flight: it cost nothing` });
      continue;
    }
    const waited = Math.max(
      ...delayed.map((h) => until - Math.max(since, Date.parse(h.created_at))),
    );
    out.push({
      ...f,
      severity: "warning",
      summary: `${f.summary}; ${plural(delayed.length, "user request")} in flight waited on it ` +
        `(up to ${duration(waited)})`,
      short: `${f.short}, delaying ${plural(delayed.length, "user request")}`,
      impact: { ...f.impact, requests_delayed: delayed.length },
      conversations: [...new Set(delayed.map((h) => h.conversation_id))],
      tasks: [...new Set(delayed.map((h) => h.task_id))],
    });
  }
  return out;
}
