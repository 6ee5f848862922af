/**
 * The rules that derive events from a `message` record, read from the state (they change nothing:
 * they return the bodies of new records, which the recorder appends, then applies):
 * - a `message` whose `message_id` was seen before -> `message_duplicated` (and nothing else);
 * - `TASK` attempt 1 -> its `message` record carries `handoff: "started"` (`annotate`, before it
 *   is appended: one line per TASK) and opens the handoff; attempt > 1 -> `handoff_retried` (the
 *   previous attempt of the same task to the same agent is closed, and kept aside as superseded:
 *   a late reply to it still yields its `handoff_completed`/`handoff_failed`, so a slow agent
 *   shows as slow);
 * - `TASK` to a queue none of whose groups had a member at its last sample (or that no group
 *   reads: its one series has group "") -> `unconsumed: true` on its `message` record;
 * - `TASK`s of one conversation going both a->b and b->a, LOOP_TASKS or more in all ->
 *   `handoff_loop` (once per conversation);
 * - `RESULT`/`ERROR` answering an open handoff -> `handoff_completed`/`handoff_failed` with the
 *   latency between the two envelopes' `created_at`;
 * - the early-reply rule: topics are not read in one global order, so a reply on the sender's
 *   queue can be observed before its `TASK` on the receiver's queue. A reply answering no open
 *   handoff (and no recently closed one) -> `reply_held` with `hold_until` = now + ORPHAN_GRACE_MS
 *   (`orphanGraceMs`, default 5 s). While it is held:
 *   - the `TASK` it answers arriving -> `handoff_started`/`handoff_retried` then, at once,
 *     `handoff_completed`/`handoff_failed` for the held reply (applying it releases the hold);
 *   - a second reply to the same task message is ignored (as a second reply to a closed task is);
 *   - once `hold_until` passes (checked with the stuck handoffs) -> `reply_orphaned`, which
 *     releases the hold.
 *   The hold lives in the state (`pending_replies`) and is only changed by those records, so it
 *   survives snapshots, restarts and replays. With ORPHAN_GRACE_MS = 0, or with
 *   `LIMITS.heldReplies` replies held already, the reply is `reply_orphaned` at once;
 * - a retry sent after the previous attempt's deadline -> `handoff_stuck` (`deadline_passed`) for
 *   that attempt, if the stuck rule (`stuck_rules.ts`) had not reported it yet.
 */

import { type HandoffData, handoffOf } from "./open_handoffs.ts";
import type { HeldReplyData, ObserverState } from "./observer_state.ts";
import type { DiffBody, MessageRecord } from "./record_format.ts";
import { LIMITS } from "./state_limits.ts";
import { topicPatternOf } from "./fold_options.ts";

export const LOOP_TASKS = 4;

/** A `message` record before it is appended */
export type MessageBody = Omit<MessageRecord, "schema_version" | "seq" | "ts">;

/**
 * Marks a `message` body before it is appended: a first delivery of a TASK (attempt 1) opens
 * its handoff (`handoff: "started"`), and a TASK to a queue nobody reads is `unconsumed`
 */
export function annotate(state: ObserverState, body: MessageBody): void {
  if (body.msg_type !== "TASK" || state.recentIds.has(body.message_id)) return;
  if (body.attempt === 1) body.handoff = "started";
  const agent = topicPatternOf(state.options).agentOf(body.topic);
  const series = agent === undefined ? [] : state.queuesOf(agent);
  if (series.length > 0 && series.every((q) => q.members === 0)) body.unconsumed = true;
}

/**
 * Finds the task a reply or progress message answers when the record names none (some A2A
 * objects, a mapping without `in_reply_to`): the oldest attempt of its task open on the agent
 * that answers, else the oldest task open on that agent in its conversation. A record that names
 * its task message is left as it is (an early reply is held for its TASK, not joined elsewhere).
 */
export function correlate(state: ObserverState, body: MessageBody): void {
  if (body.msg_type === "TASK" || body.in_reply_to !== undefined) return;
  const byTask = state.handoffs.oldestAttempt(body.task_id, body.source);
  if (byTask !== undefined) {
    body.in_reply_to = byTask.task_message_id;
    body.correlated_by = "task";
    return;
  }
  for (const h of state.handoffs.values()) {
    if (h.to === body.source && h.conversation_id === body.conversation_id) {
      body.in_reply_to = h.task_message_id;
      body.correlated_by = "conversation";
      return;
    }
  }
}

/** Derived events for a `message` record (annotated, appended) not yet applied */
export function derive(state: ObserverState, r: MessageRecord): DiffBody[] {
  const out: DiffBody[] = [];
  const firstSeq = state.recentIds.get(r.message_id);
  if (firstSeq !== undefined) {
    return [{
      type: "message_duplicated",
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      message_id: r.message_id,
      first_seq: firstSeq,
    }];
  }
  const handoff = {
    task_id: r.task_id,
    conversation_id: r.conversation_id,
    from: r.source,
    to: r.target,
    attempt: r.attempt,
    message_seq: r.seq,
  };
  if (r.msg_type === "TASK") {
    if (r.attempt > 1) {
      const previous = state.handoffs.oldestAttempt(r.task_id, r.target);
      // A retry sent after the previous attempt's deadline: that attempt was stuck, whether or
      // not the periodic check saw it before the retry closed it.
      const due = previous?.deadline === undefined ? NaN : Date.parse(previous.deadline);
      if (previous !== undefined && !previous.stuck && due < Date.parse(r.created_at)) {
        out.push({
          type: "handoff_stuck",
          task_message_id: previous.task_message_id,
          task_id: previous.task_id,
          conversation_id: previous.conversation_id,
          from: previous.from,
          to: previous.to,
          attempt: previous.attempt,
          reason: "deadline_passed",
          age_ms: Date.parse(r.created_at) - Date.parse(previous.created_at),
          limit_ms: due - Date.parse(previous.created_at),
        });
      }
      out.push({
        type: "handoff_retried",
        task_message_id: r.message_id,
        ...handoff,
        previous_message_id: previous?.task_message_id ?? "",
        created_at: r.created_at,
        ...(r.deadline === undefined ? {} : { deadline: r.deadline }),
      });
    }
    const held = state.heldReplies.get(r.message_id);
    if (held !== undefined) {
      out.push(answer({ ...handoffOf(r), ...(r.deadline ? { deadline: r.deadline } : {}) }, held));
    }
    const c = state.conversations.get(r.conversation_id);
    if (r.attempt === 1 && c !== undefined && !c.loop_reported) {
      const forward = (c.edges[`${r.source}>${r.target}`] ?? 0) + 1;
      const back = c.edges[`${r.target}>${r.source}`] ?? 0;
      if (back > 0 && forward + back >= LOOP_TASKS) {
        out.push({
          type: "handoff_loop",
          conversation_id: r.conversation_id,
          agents: [r.source, r.target].sort(),
          tasks: forward + back,
          message_seq: r.seq,
        });
      }
    }
  } else if ((r.msg_type === "RESULT" || r.msg_type === "ERROR") && r.in_reply_to !== undefined) {
    // An open task, or an attempt a retry superseded (its reply is late, not orphaned)
    const task = state.handoffs.get(r.in_reply_to) ?? state.superseded.get(r.in_reply_to);
    const reply: HeldReplyData = {
      message_id: r.message_id,
      in_reply_to: r.in_reply_to,
      msg_type: r.msg_type,
      source: r.source,
      target: r.target,
      conversation_id: r.conversation_id,
      task_id: r.task_id,
      created_at: r.created_at,
      message_seq: r.seq,
      hold_until: new Date(Date.parse(r.observed_at) + state.options.orphanGraceMs).toISOString(),
    };
    if (r.error !== undefined) reply.error = r.error;
    if (task !== undefined) out.push(answer(task, reply));
    else if (state.recentClosed.has(r.in_reply_to) || state.heldReplies.has(r.in_reply_to)) {
      // A second reply to a task already answered (or whose first reply is held): nothing.
    } else if (state.options.orphanGraceMs > 0 && state.heldReplies.size < LIMITS.heldReplies) {
      out.push({ type: "reply_held", ...reply });
    } else {
      out.push(orphaned(reply));
    }
  }
  return out;
}

/** `reply_orphaned` events for held replies whose TASK did not come in time */
export function expiredReplies(state: ObserverState, now: Date): DiffBody[] {
  const t = now.getTime();
  const out: DiffBody[] = [];
  for (const h of state.heldReplies.values()) {
    if (Date.parse(h.hold_until) <= t) out.push(orphaned(h));
  }
  return out;
}

/** The `handoff_completed`/`handoff_failed` body of a reply answering a task */
function answer(
  task:
    & Pick<
      HandoffData,
      "task_message_id" | "task_id" | "conversation_id" | "from" | "to" | "attempt" | "created_at"
    >
    & { deadline?: string },
  reply: HeldReplyData,
): DiffBody {
  const fields = {
    task_message_id: task.task_message_id,
    task_id: task.task_id,
    conversation_id: task.conversation_id,
    from: task.from,
    to: task.to,
    attempt: task.attempt,
    reply_message_id: reply.message_id,
    latency_ms: Math.max(0, Date.parse(reply.created_at) - Date.parse(task.created_at)),
    message_seq: reply.message_seq,
  };
  if (reply.msg_type === "RESULT") return { type: "handoff_completed", ...fields };
  return {
    type: "handoff_failed",
    ...fields,
    error_kind: reply.error?.kind ?? "unknown",
    error_message: reply.error?.message ?? "",
    retryable: reply.error?.retryable ?? false,
    // When the task was made and the deadline it carried: whether it expired before it was sent
    task_created_at: task.created_at,
    ...(task.deadline !== undefined ? { deadline: task.deadline } : {}),
  };
}

function orphaned(reply: HeldReplyData): DiffBody {
  return {
    type: "reply_orphaned",
    message_id: reply.message_id,
    in_reply_to: reply.in_reply_to,
    msg_type: reply.msg_type,
    source: reply.source,
    target: reply.target,
    conversation_id: reply.conversation_id,
    task_id: reply.task_id,
    message_seq: reply.message_seq,
  };
}
