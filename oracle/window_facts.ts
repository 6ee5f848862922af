/**
 * What happened in the window of history being diagnosed, gathered in one pass over its records:
 * every queue sample (the series the stall and backlog rules read), every pod or process event,
 * every error occurrence, failed and stuck handoffs, unread and malformed records, and the state
 * at the window's end. Only those record types are decoded: the frequent `message` and
 * `handoff_*` lines are skipped on their header bytes, so a window costs about a read of its bytes.
 * The replies (`handoff_completed`, `handoff_failed`) are noted in the same pass by their ids
 * (reply_lines.ts), and the few worth a look read again once the window is known.
 * Tasks sent to unread queues are read from their error folds (kind `task_unconsumed`, with
 * `occurrences`), never from the message lines; a `handoffs_stuck` line counts as one
 * `handoff_stuck` per handoff it names.
 */

import type {
  ConsumerRestartedRecord,
  DiffRecord,
  ErrorRecord,
  HandoffCompletedRecord,
  HandoffFailedRecord,
  HandoffRetriedRecord,
  HandoffStuckRecord,
  MessageMalformedRecord,
  ObserverStartedRecord,
  ObserverStateData,
  QueueSampleRecord,
  RuntimeEventRecord,
} from "@mat/observer";
import { endsSeries, foldKindOf, type HandoffLoopRecord, queueKey } from "@mat/observer";
import type { SkimmedLine } from "./history_reader.ts";
import { ReplyLines } from "./reply_lines.ts";
import { type RebuiltFrom, rebuiltFrom } from "./state_replay.ts";
import type { TimeMachine } from "./time_machine.ts";

/** How far back from the end of the history `diagnose` looks by default */
export const DEFAULT_WINDOW_MS = 15 * 60_000;

export interface WindowFacts {
  /** The window, in ms since the epoch */
  from: number;
  to: number;
  /** Time of the newest record in the window (NaN when there is none) */
  asOf: number;
  /** The observer's state at the window's end */
  end: ObserverStateData;
  /** Its state at the window's start: what the window added is the difference (window_work.ts) */
  start: ObserverStateData;
  /** How that state was rebuilt */
  rebuilt: RebuiltFrom;
  /**
   * Queue samples per series (one agent queue and one group reading it, by `queueKey`), oldest
   * first; the user inbox left out: it is no agent's queue. A history of an older observer has
   * one series per agent (its conventional group)
   */
  queues: Map<string, QueueSampleRecord[]>;
  runtime: RuntimeEventRecord[];
  errors: ErrorRecord[];
  failed: HandoffFailedRecord[];
  stuck: HandoffStuckRecord[];
  retried: HandoffRetriedRecord[];
  /** Tasks sent to a queue nobody read, per error line: how many, the evidence seqs */
  unconsumed: { agent: string; topic: string | null; count: number; seqs: number[]; ts: string }[];
  malformed: MessageMalformedRecord[];
  loops: HandoffLoopRecord[];
  observerStarts: ObserverStartedRecord[];
  /** The observer's consumer crashed for good and was created again (`consumer_restarted`) */
  consumerRestarts: ConsumerRestartedRecord[];
  /**
   * Replies recorded for stuck handoffs closed since, and for the attempts of retried tasks, by
   * the task message they answer
   */
  replies: Map<string, HandoffCompletedRecord | HandoffFailedRecord>;
  /**
   * User requests (TASKs the requester sent: `fold_options.user_inbox`) that failed or went
   * unanswered, by conversation
   */
  requestsFailed: Map<
    string,
    { at: string; seq: number; reason: string; task_id: string; to: string }
  >;
  /** The requester's name the history was folded with (`user` unless the observer was told) */
  userInbox: string;
}

const WINDOW_TYPES: ReadonlySet<DiffRecord["type"]> = new Set(
  [
    "queue_sample",
    "runtime_event",
    "error",
    "handoff_failed",
    "handoff_stuck",
    "handoffs_stuck",
    "handoff_retried",
    "message_malformed",
    "handoff_loop",
    "observer_started",
    "consumer_restarted",
  ] as const,
);

const REPLY_TYPES: ReadonlySet<DiffRecord["type"]> = new Set(
  [
    "handoff_completed",
    "handoff_failed",
  ] as const,
);

/** The string value of a top-level `"key":"value"` in a JSON line, "" when absent */
export function fieldOf(text: string, key: string): string {
  const marker = `"${key}":"`;
  const at = text.indexOf(marker);
  if (at < 0) return "";
  const from = at + marker.length;
  const end = text.indexOf('"', from);
  return end < 0 ? "" : text.slice(from, end);
}

export interface WindowChoice {
  after?: number;
  before?: number;
}

/**
 * The window `diagnose` reads: the choice given, else the last 15 minutes of history. A window
 * given only its start ends at the end of the history, or now when it starts after that (`--since
 * 10m` on an old copy): it then holds no record, which the read reports, rather than ending before
 * it starts
 */
export function windowOf(tm: TimeMachine, choice: WindowChoice): [number, number] {
  const last = tm.lastTime();
  const end = Number.isFinite(last) ? last : tm.now;
  const to = choice.before ??
    (choice.after !== undefined && choice.after > end ? Math.max(tm.now, choice.after) : end);
  const from = choice.after ?? to - DEFAULT_WINDOW_MS;
  return [from, to];
}

/** The series of an agent's queue in the window: one per group that read it (or group "") */
export function queueSeriesOf(facts: WindowFacts, agent: string): QueueSampleRecord[][] {
  return [...facts.queues.values()].filter((s) => s[0]?.agent === agent);
}

/**
 * The sample that ended a series: the first later sample of the same queue whose `topic_groups`
 * leaves its group out (the group no longer read it, or a group was found for an unread queue).
 * Undefined while the series goes on, and always for histories of older observers
 */
export function seriesEndOf(
  facts: WindowFacts,
  series: QueueSampleRecord[],
): QueueSampleRecord | undefined {
  const last = series.at(-1);
  if (last === undefined) return undefined;
  let end: QueueSampleRecord | undefined;
  for (const other of queueSeriesOf(facts, last.agent)) {
    const ender = other.find((s) => s.seq > last.seq && endsSeries(s, last));
    if (ender !== undefined && (end === undefined || ender.seq < end.seq)) end = ender;
  }
  return end;
}

/** Files one record of the window into the facts */
function record(facts: WindowFacts, r: DiffRecord): void {
  switch (r.type) {
    case "queue_sample": {
      if (r.agent === facts.userInbox) break;
      const key = queueKey(r);
      const series = facts.queues.get(key) ?? [];
      series.push(r);
      facts.queues.set(key, series);
      break;
    }
    case "runtime_event":
      facts.runtime.push(r);
      break;
    case "error":
      if (r.agent !== facts.userInbox) facts.errors.push(r);
      if (foldKindOf(r.kind) === "task_unconsumed" && r.agent !== null) {
        const count = r.occurrences ?? 1;
        facts.unconsumed.push({
          agent: r.agent,
          topic: r.evidence.offsets.at(-1)?.topic ?? null,
          count,
          seqs: r.evidence.seqs.slice(-count),
          ts: r.ts,
        });
      }
      break;
    case "handoff_failed":
      facts.failed.push(r);
      if (r.from === facts.userInbox) {
        facts.requestsFailed.set(r.conversation_id, {
          at: r.ts,
          seq: r.seq,
          task_id: r.task_id,
          to: r.to,
          reason: `${r.error_kind}: ${r.error_message}`,
        });
      }
      break;
    case "handoff_stuck":
      facts.stuck.push(r);
      break;
    case "handoffs_stuck":
      for (const h of r.handoffs) {
        facts.stuck.push({
          schema_version: r.schema_version,
          seq: r.seq,
          ts: r.ts,
          type: "handoff_stuck",
          ...h,
        });
      }
      break;
    case "handoff_retried":
      facts.retried.push(r);
      break;
    case "message_malformed":
      facts.malformed.push(r);
      break;
    case "handoff_loop":
      facts.loops.push(r);
      break;
    case "observer_started":
      facts.observerStarts.push(r);
      break;
    case "consumer_restarted":
      facts.consumerRestarts.push(r);
      break;
    default:
      break;
  }
}

export async function gatherFacts(tm: TimeMachine, from: number, to: number): Promise<WindowFacts> {
  const endState = await tm.stateAt(to);
  const startState = await tm.stateAt(from);
  // Facts afresh for each read of the window: it is read again, over the whole history, when
  // its records are out of time order
  const fresh = (): WindowFacts => ({
    from,
    to,
    asOf: endState.asOf,
    end: endState.state,
    start: startState.state,
    rebuilt: rebuiltFrom(endState),
    queues: new Map(),
    runtime: [],
    errors: [],
    failed: [],
    stuck: [],
    retried: [],
    unconsumed: [],
    malformed: [],
    loops: [],
    observerStarts: [],
    consumerRestarts: [],
    replies: new Map(),
    requestsFailed: new Map(),
    userInbox: endState.foldOptions.options.userInbox,
  });
  // The reply lines are noted in the same pass, to be read again once it is known which are
  // worth a look (below).
  let replyLines = new ReplyLines();
  const skim = { types: REPLY_TYPES, visit: (line: SkimmedLine) => replyLines.add(line) };
  const facts = await tm.readWindow(from, to, { types: WINDOW_TYPES, skim }, async (lines) => {
    const facts = fresh();
    replyLines = new ReplyLines();
    for await (const line of lines) {
      const r = tm.typed(line);
      if (r === undefined) continue;
      record(facts, r);
    }
    return facts;
  });
  // Requests still open at the end and past their deadline: unanswered.
  for (const h of endState.state.handoffs_open) {
    if (h.from !== facts.userInbox || facts.requestsFailed.has(h.conversation_id)) continue;
    // A request waiting on a person (input or auth required) is not failing
    if (h.waiting_on !== undefined) continue;
    const overdue = h.deadline !== undefined && Date.parse(h.deadline) < to;
    if (h.stuck || overdue) {
      facts.requestsFailed.set(h.conversation_id, {
        at: h.deadline ?? h.created_at,
        seq: h.started_seq,
        task_id: h.task_id,
        to: h.to,
        reason: "never answered",
      });
    }
  }
  // Replies worth a look: to a stuck handoff closed since (a late reply, or a retry), and to the
  // earlier attempts of retried tasks (a retry of a task already answered). A stuck handoff still
  // open at the end got no reply: no need to look. Only the lines naming them are read again and
  // parsed, in the order of the window.
  const open = new Set(endState.state.handoffs_open.map((h) => h.task_message_id));
  const stuckClosed = new Set(
    facts.stuck.map((s) => s.task_message_id).filter((id) => !open.has(id)),
  );
  const retriedTasks = new Set(facts.retried.map((r) => r.task_id));
  if (stuckClosed.size > 0 || retriedTasks.size > 0) {
    const wanted = (text: string) =>
      stuckClosed.has(fieldOf(text, "task_message_id")) ||
      retriedTasks.has(fieldOf(text, "task_id"));
    for (const place of replyLines.candidates(stuckClosed, retriedTasks)) {
      const line = tm.diff.lineAt(place.cursor, place.length, tm.report);
      if (line === undefined || !wanted(line.text)) continue;
      const r = tm.typed(line);
      if (r?.type === "handoff_completed" || r?.type === "handoff_failed") {
        facts.replies.set(r.task_message_id, r);
      }
    }
  }
  return facts;
}
