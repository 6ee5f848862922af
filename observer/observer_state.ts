/**
 * The observer's state, and the rules that derive events from what it sees.
 *
 * The state is a pure function of the diff history: `apply` folds one record in, and nothing
 * else changes it, so a snapshot plus the records after it rebuilds the state at any later seq.
 * `derive` and `stuck` only read the state, and return the bodies of new records (which the
 * recorder appends, then applies).
 *
 * Derivation rules:
 * - a `message` whose `message_id` was seen before -> `message_duplicated` (and nothing else);
 * - `TASK` attempt 1 -> its `message` record carries `handoff: "started"` (`annotate`, before it
 *   is appended: one line per TASK) and opens the handoff; attempt > 1 -> `handoff_retried` (the
 *   previous attempt
 *   of the same task to the same agent is closed, and kept aside as superseded: a late reply to it
 *   still yields its `handoff_completed`/`handoff_failed`, so a slow agent shows as slow);
 * - `TASK` to a queue whose group was last sampled with no members -> `unconsumed: true` on its
 *   `message` record;
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
 * - an open handoff past its `deadline` -> `handoff_stuck` (`deadline_passed`); with no deadline
 *   reached, older than max(STUCK_AFTER_MS, 5x the p95 of the agent's recent latencies) ->
 *   `handoff_stuck` (`slower_than_normal`). Reported once; a late answer still completes it.
 *
 * Memory is bounded: open handoffs, recent ids, conversations and folded errors are capped, the
 * oldest dropped first, and what was dropped is counted (`dropped`). A snapshot is bounded too
 * (`SNAPSHOT_CAPS`): past a cap a list keeps its oldest open handoffs or newest entries, and says
 * how many it left out (`omitted`); the open handoffs per agent stay counted in full.
 */

import { agentOfTopic } from "@mat/agents/protocol";
import { ProcessState as RuntimeState } from "./process_state.ts";
import type {
  Body,
  DiffBody,
  DiffRecord,
  ErrorFold,
  HandoffStuckRecord,
  MessageRecord,
  ObserverStateData,
  Position,
} from "./record_format.ts";

export const LOOP_TASKS = 4;
/** Default ORPHAN_GRACE_MS: how long a reply waits for its TASK before it is orphaned */
export const DEFAULT_ORPHAN_GRACE_MS = 5_000;
export const LIMITS = {
  /** Replies held for their TASK at once; beyond it a reply is orphaned at once */
  heldReplies: 10_000,
  openHandoffs: 20_000,
  recentMessageIds: 4_096,
  recentClosedTasks: 4_096,
  conversations: 2_000,
  errors: 1_000,
  latencies: 100,
  /** Agents (and agent x model usage rows) counted; a name past it is counted as dropped */
  agents: 1_000,
};

type AgentData = ObserverStateData["agents"][number];
type QueueData = ObserverStateData["queues"][number];
type HandoffData = ObserverStateData["handoffs_open"][number];
type UsageData = ObserverStateData["usage"][number];
type ConversationData = ObserverStateData["conversations"][number];
type HeldReplyData = NonNullable<ObserverStateData["pending_replies"]>[number];
type MessageBody = Omit<MessageRecord, "schema_version" | "seq" | "ts">;

/**
 * What one snapshot keeps of each list (see the module comment): a snapshot stays under 256 KB
 * whatever the backlog (about 330 bytes per open handoff, 500 per error fold)
 */
export const SNAPSHOT_CAPS = {
  handoffs_open: 200,
  errors: 100,
  recent_message_ids: 256,
  recent_closed_tasks: 256,
  conversations: 100,
  pending_replies: 100,
  superseded_handoffs: 100,
};

export interface StateOptions {
  prefix: string;
  windowSize: number;
  stuckAfterMs: number;
  /** How long a reply seen before its TASK is held before `reply_orphaned` (ORPHAN_GRACE_MS) */
  orphanGraceMs?: number;
}

/**
 * Moves a key to the newest end of an insertion-ordered map. Past `cap` plus an eighth, the
 * oldest entries are dropped down to `cap` in one pass: trimming on every insert costs an
 * iterator per message (a tenth of the observer's time when measured).
 */
function touch<K, V>(map: Map<K, V>, key: K, value: V, cap: number): number {
  if (map.has(key)) map.delete(key);
  map.set(key, value);
  if (map.size <= cap + (cap >> 3)) return 0;
  const excess = map.size - cap;
  let left = excess;
  for (const oldest of map.keys()) {
    if (left-- <= 0) break;
    map.delete(oldest);
  }
  return excess;
}

/** The first `n` values of a list, or the last `n` with `newest` */
function capped<T>(values: Iterable<T>, n: number, newest = false): { kept: T[]; omitted: number } {
  const all = [...values];
  if (all.length <= n) return { kept: all, omitted: 0 };
  return { kept: newest ? all.slice(-n) : all.slice(0, n), omitted: all.length - n };
}

/** Whether Kafka offset `a` < `b` (decimal strings without leading zeros; no BigInt needed) */
function offsetBelow(a: string, b: string): boolean {
  return a.length !== b.length ? a.length < b.length : a < b;
}

/** Adds to a count keyed by data (an own property: `constructor` is a key like any other) */
function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (Object.hasOwn(counts, key) ? counts[key] ?? 0 : 0) + n;
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

function newAgent(agent: string): AgentData {
  return {
    agent,
    status: "unknown",
    last_seen: null,
    in_flight: 0,
    messages_sent: 0,
    messages_received: 0,
    tasks_received: 0,
    tasks_completed: 0,
    tasks_failed: 0,
    tasks_stuck: 0,
    llm_errors: 0,
    recent_latencies_ms: [],
  };
}

export class ObserverState {
  readonly options: StateOptions;
  messagesSeen = 0;
  malformedSeen = 0;
  eventsByType: Record<string, number> = {};
  readonly positions = new Map<string, Position>();
  readonly agents = new Map<string, AgentData>();
  readonly queues = new Map<string, QueueData>();
  readonly handoffs = new Map<string, HandoffData>();
  readonly errors = new Map<string, ErrorFold>();
  errorCounts: ObserverStateData["error_counts"] = {
    by_severity: {},
    by_category: {},
    by_agent: {},
  };
  readonly usage = new Map<string, UsageData>();
  readonly recentIds = new Map<string, number>();
  readonly recentClosed = new Map<string, true>();
  readonly conversations = new Map<string, ConversationData>();
  /** Replies held for their TASK, by the task message they answer (`in_reply_to`) */
  readonly heldReplies = new Map<string, HeldReplyData>();
  /** Attempts closed by a retry, by task message: a late reply to one still completes it */
  readonly superseded = new Map<string, HandoffData>();
  /** Agent pods and processes, from `runtime_event` records */
  readonly runtime: RuntimeState;
  /** Indexes over `handoffs` (not state of their own): open handoffs per agent, and per task */
  readonly #openByAgent = new Map<string, number>();
  readonly #openByTask = new Map<string, Set<string>>();
  /**
   * Open handoffs per agent that a cut snapshot left out: counted in `in_flight` until a reply
   * to a handoff this state does not know comes from that agent
   */
  readonly #omittedByAgent = new Map<string, number>();
  /** Entries the bounded structures dropped, per structure (part of the state: in snapshots) */
  readonly dropped = new Map<string, number>();

  constructor(options: StateOptions, data?: ObserverStateData) {
    this.options = options;
    this.runtime = new RuntimeState(data?.processes);
    if (data === undefined) return;
    this.messagesSeen = data.messages_seen;
    this.malformedSeen = data.malformed_seen;
    this.eventsByType = { ...data.events_by_type };
    for (const p of data.positions) this.positions.set(`${p.topic}:${p.partition}`, p);
    for (const a of data.agents) this.agents.set(a.agent, a);
    for (const q of data.queues) this.queues.set(q.agent, q);
    for (const h of data.handoffs_open) this.#openHandoff(h);
    for (const e of data.errors) this.errors.set(e.fingerprint, e);
    this.errorCounts = data.error_counts;
    for (const u of data.usage) this.usage.set(`${u.agent}|${u.model}`, u);
    for (const r of data.recent_message_ids) this.recentIds.set(r.message_id, r.seq);
    for (const t of data.recent_closed_tasks) this.recentClosed.set(t, true);
    for (const c of data.conversations) this.conversations.set(c.conversation_id, c);
    for (const h of data.pending_replies ?? []) this.heldReplies.set(h.in_reply_to, h);
    for (const h of data.superseded_handoffs ?? []) this.superseded.set(h.task_message_id, h);
    for (const [k, v] of Object.entries(data.dropped ?? {})) this.dropped.set(k, v);
    for (const [agent, n] of Object.entries(data.open_by_agent ?? {})) {
      const missing = n - this.#inFlight(agent);
      if (missing > 0) this.#omittedByAgent.set(agent, missing);
    }
  }

  #drop(structure: string, n: number): void {
    if (n > 0) this.dropped.set(structure, (this.dropped.get(structure) ?? 0) + n);
  }

  get orphanGraceMs(): number {
    return this.options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  }

  /** Opens a handoff (the oldest open one is dropped past the cap), keeping the indexes */
  #openHandoff(h: HandoffData): void {
    this.#dropHandoff(h.task_message_id);
    this.handoffs.set(h.task_message_id, h);
    this.#openByAgent.set(h.to, (this.#openByAgent.get(h.to) ?? 0) + 1);
    const key = `${h.task_id}|${h.to}`;
    const ids = this.#openByTask.get(key) ?? new Set<string>();
    ids.add(h.task_message_id);
    this.#openByTask.set(key, ids);
    // Past the cap plus an eighth, the oldest go in one pass (one at a time, each lookup of the
    // oldest would walk the deleted entries at the map's head)
    const cap = LIMITS.openHandoffs;
    if (this.handoffs.size > cap + (cap >> 3)) {
      const oldest: string[] = [];
      let excess = this.handoffs.size - cap;
      for (const id of this.handoffs.keys()) {
        if (excess-- <= 0) break;
        oldest.push(id);
      }
      for (const id of oldest) this.#dropHandoff(id);
      this.#drop("handoffs_open", oldest.length);
    }
  }

  /** Removes an open handoff; returns whether it was open */
  #dropHandoff(taskMessageId: string): boolean {
    const h = this.handoffs.get(taskMessageId);
    if (h === undefined) return false;
    this.handoffs.delete(taskMessageId);
    const n = (this.#openByAgent.get(h.to) ?? 1) - 1;
    if (n > 0) this.#openByAgent.set(h.to, n);
    else this.#openByAgent.delete(h.to);
    const key = `${h.task_id}|${h.to}`;
    const ids = this.#openByTask.get(key);
    ids?.delete(taskMessageId);
    if (ids !== undefined && ids.size === 0) this.#openByTask.delete(key);
    return true;
  }

  /**
   * An agent's counters. Past LIMITS.agents names (a foreign producer inventing senders), a new
   * name gets counters that are not kept, and is counted as dropped.
   */
  #agent(name: string): AgentData {
    let a = this.agents.get(name);
    if (a === undefined) {
      a = newAgent(name);
      if (this.agents.size < LIMITS.agents) this.agents.set(name, a);
      else this.#drop("agents", 1);
    }
    return a;
  }

  /** The last offset recorded in a partition */
  position(topic: string, partition: number): Position | undefined {
    return this.positions.get(`${topic}:${partition}`);
  }

  #setPosition(p: Position): void {
    const key = `${p.topic}:${p.partition}`;
    const old = this.positions.get(key);
    if (old === undefined || offsetBelow(old.offset, p.offset)) this.positions.set(key, p);
  }

  /** Folds one record of the diff history into the state */
  apply(r: DiffRecord): void {
    bump(this.eventsByType, r.type);
    switch (r.type) {
      case "segment_started":
      case "observer_started":
        for (const p of r.positions) this.#setPosition(p);
        break;
      case "message": {
        this.messagesSeen++;
        this.#setPosition({ topic: r.topic, partition: r.partition, offset: r.offset });
        touch(this.recentIds, r.message_id, r.seq, LIMITS.recentMessageIds);
        const source = this.#agent(r.source);
        source.messages_sent++;
        source.last_seen = r.observed_at;
        const target = this.#agent(r.target);
        target.messages_received++;
        if (r.msg_type === "TASK") {
          target.tasks_received++;
          if (r.attempt === 1) this.#countEdge(r);
        }
        if (r.handoff === "started") {
          const h: HandoffData = {
            task_message_id: r.message_id,
            task_id: r.task_id,
            conversation_id: r.conversation_id,
            from: r.source,
            to: r.target,
            attempt: r.attempt,
            created_at: r.created_at,
            observed_at: r.ts,
            started_seq: r.seq,
            stuck: false,
          };
          if (r.deadline !== undefined) h.deadline = r.deadline;
          this.#openHandoff(h);
          target.in_flight = this.#inFlight(r.target);
        }
        if (r.usage !== undefined) {
          const key = `${r.source}|${r.usage.model}`;
          const u = this.usage.get(key) ?? {
            agent: r.source,
            model: r.usage.model,
            calls: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0,
            latency_ms_total: 0,
          };
          u.calls++;
          u.input_tokens += r.usage.input_tokens;
          u.output_tokens += r.usage.output_tokens;
          u.cost_usd += r.usage.cost_usd;
          u.latency_ms_total += r.usage.latency_ms;
          if (this.usage.has(key) || this.usage.size < LIMITS.agents) this.usage.set(key, u);
          else this.#drop("usage", 1);
        }
        if (r.error !== undefined && r.error.kind.startsWith("llm_")) source.llm_errors++;
        break;
      }
      case "message_malformed":
        this.malformedSeen++;
        this.#setPosition({ topic: r.topic, partition: r.partition, offset: r.offset });
        break;
      case "handoff_started":
      case "handoff_retried": {
        if (r.type === "handoff_retried") {
          const previous = this.handoffs.get(r.previous_message_id);
          if (previous !== undefined) {
            touch(this.superseded, previous.task_message_id, previous, LIMITS.recentClosedTasks);
          }
          this.#close(r.previous_message_id, r.to);
        }
        const h: HandoffData = {
          task_message_id: r.task_message_id,
          task_id: r.task_id,
          conversation_id: r.conversation_id,
          from: r.from,
          to: r.to,
          attempt: r.attempt,
          created_at: r.ts,
          observed_at: r.ts,
          started_seq: r.message_seq,
          stuck: false,
        };
        if (r.created_at !== undefined) h.created_at = r.created_at;
        if (r.deadline !== undefined) h.deadline = r.deadline;
        this.#openHandoff(h);
        this.#agent(r.to).in_flight = this.#inFlight(r.to);
        break;
      }
      case "handoff_completed":
      case "handoff_failed": {
        this.#close(r.task_message_id, r.to);
        this.heldReplies.delete(r.task_message_id);
        this.superseded.delete(r.task_message_id);
        const a = this.#agent(r.to);
        if (r.type === "handoff_completed") {
          a.tasks_completed++;
          a.recent_latencies_ms = [...a.recent_latencies_ms, r.latency_ms].slice(-LIMITS.latencies);
        } else a.tasks_failed++;
        a.in_flight = this.#inFlight(r.to);
        break;
      }
      case "handoff_stuck":
        this.#markStuck(r);
        break;
      case "handoffs_stuck":
        for (const h of r.handoffs) this.#markStuck(h);
        break;
      case "handoff_loop": {
        const c = this.conversations.get(r.conversation_id);
        if (c !== undefined) c.loop_reported = true;
        break;
      }
      case "queue_sample": {
        const old = this.queues.get(r.agent);
        const point = { at: r.ts, partitions: r.partitions };
        this.queues.set(r.agent, {
          agent: r.agent,
          topic: r.topic,
          group: r.group,
          status: r.status,
          status_reason: r.status_reason,
          lag: r.lag,
          group_state: r.group_state,
          members: r.members.length,
          partitions: r.partitions,
          sampled_at: r.ts,
          window: [...(old?.window ?? []), point].slice(-this.options.windowSize),
        });
        this.#agent(r.agent).status = r.members.length > 0 ? "up" : "down";
        break;
      }
      case "error": {
        const { type: _t, schema_version: _v, seq: _s, ts: _ts, occurrences, ...fold } = r;
        this.#drop("errors", touch(this.errors, r.fingerprint, fold, LIMITS.errors));
        const n = occurrences ?? 1;
        bump(this.errorCounts.by_severity, r.severity, n);
        bump(this.errorCounts.by_category, r.category, n);
        bump(this.errorCounts.by_agent, r.agent ?? "unknown", n);
        break;
      }
      case "topic_reset":
        this.positions.delete(`${r.topic}:${r.partition}`);
        break;
      case "runtime_event":
        this.runtime.apply(r);
        break;
      case "reply_held": {
        const { type: _t, schema_version: _v, seq: _s, ts: _ts, ...held } = r;
        this.heldReplies.set(r.in_reply_to, held);
        break;
      }
      case "reply_orphaned":
        if (this.heldReplies.get(r.in_reply_to)?.message_id === r.message_id) {
          this.heldReplies.delete(r.in_reply_to);
        }
        break;
      case "message_duplicated":
      case "task_unconsumed":
      case "queue_status_changed":
      case "segment_deleted":
        break;
    }
  }

  #inFlight(agent: string): number {
    return (this.#openByAgent.get(agent) ?? 0) + (this.#omittedByAgent.get(agent) ?? 0);
  }

  #close(taskMessageId: string, agent: string): void {
    if (this.#dropHandoff(taskMessageId)) {
      touch(this.recentClosed, taskMessageId, true, LIMITS.recentClosedTasks);
      return;
    }
    // Not known here: one of the handoffs a cut snapshot left out, if any are
    const omitted = this.#omittedByAgent.get(agent);
    if (omitted !== undefined) {
      if (omitted > 1) this.#omittedByAgent.set(agent, omitted - 1);
      else this.#omittedByAgent.delete(agent);
    }
  }

  #markStuck(s: { task_message_id: string; to: string }): void {
    const h = this.handoffs.get(s.task_message_id);
    if (h !== undefined) h.stuck = true;
    this.#agent(s.to).tasks_stuck++;
  }

  #countEdge(r: MessageRecord): void {
    const c = this.conversations.get(r.conversation_id) ??
      { conversation_id: r.conversation_id, edges: {}, loop_reported: false };
    bump(c.edges, `${r.source}>${r.target}`);
    this.#drop(
      "conversations",
      touch(this.conversations, r.conversation_id, c, LIMITS.conversations),
    );
  }

  /**
   * Marks a `message` body before it is appended: a first delivery of a TASK (attempt 1) opens
   * its handoff (`handoff: "started"`), and a TASK to a queue nobody reads is `unconsumed`
   */
  annotate(body: MessageBody): void {
    if (body.msg_type !== "TASK" || this.recentIds.has(body.message_id)) return;
    if (body.attempt === 1) body.handoff = "started";
    const agent = agentOfTopic(body.topic, this.options.prefix);
    const queue = agent === undefined ? undefined : this.queues.get(agent);
    if (queue !== undefined && queue.members === 0) body.unconsumed = true;
  }

  /** Derived events for a `message` record (annotated, appended) not yet applied */
  derive(r: MessageRecord): DiffBody[] {
    const out: DiffBody[] = [];
    const firstSeq = this.recentIds.get(r.message_id);
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
      let previous: HandoffData | undefined;
      if (r.attempt > 1) {
        // The oldest open attempt of this task to this agent
        const ids = this.#openByTask.get(`${r.task_id}|${r.target}`);
        const first = ids?.values().next();
        previous = first === undefined || first.done ? undefined : this.handoffs.get(first.value);
      }
      if (r.attempt > 1) {
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
      const held = this.heldReplies.get(r.message_id);
      if (held !== undefined) {
        out.push(this.#answer(
          {
            task_message_id: r.message_id,
            task_id: r.task_id,
            conversation_id: r.conversation_id,
            from: r.source,
            to: r.target,
            attempt: r.attempt,
            created_at: r.created_at,
          },
          held,
        ));
      }
      const c = this.conversations.get(r.conversation_id);
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
      const task = this.handoffs.get(r.in_reply_to) ?? this.superseded.get(r.in_reply_to);
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
        hold_until: new Date(Date.parse(r.observed_at) + this.orphanGraceMs).toISOString(),
      };
      if (r.error !== undefined) reply.error = r.error;
      if (task !== undefined) out.push(this.#answer(task, reply));
      else if (this.recentClosed.has(r.in_reply_to) || this.heldReplies.has(r.in_reply_to)) {
        // A second reply to a task already answered (or whose first reply is held): nothing.
      } else if (this.orphanGraceMs > 0 && this.heldReplies.size < LIMITS.heldReplies) {
        out.push({ type: "reply_held", ...reply });
      } else {
        out.push(orphaned(reply));
      }
    }
    return out;
  }

  /** The `handoff_completed`/`handoff_failed` body of a reply answering a task */
  #answer(
    task: Pick<
      HandoffData,
      "task_message_id" | "task_id" | "conversation_id" | "from" | "to" | "attempt" | "created_at"
    >,
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
    };
  }

  /** `reply_orphaned` events for held replies whose TASK did not come in time */
  expiredReplies(now: Date): DiffBody[] {
    const t = now.getTime();
    const out: DiffBody[] = [];
    for (const h of this.heldReplies.values()) {
      if (Date.parse(h.hold_until) <= t) out.push(orphaned(h));
    }
    return out;
  }

  /** How long a handoff to an agent may stay open before it is stuck, without a deadline */
  normalLimitMs(agent: string): number {
    const samples = [...(this.agents.get(agent)?.recent_latencies_ms ?? [])].sort((a, b) => a - b);
    if (samples.length < 20) return this.options.stuckAfterMs;
    const p95 = samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.95))] ?? 0;
    return Math.max(this.options.stuckAfterMs, 5 * p95);
  }

  /** `handoff_stuck` events for open handoffs that just became stuck */
  stuck(now: Date): Body<HandoffStuckRecord>[] {
    const out: Body<HandoffStuckRecord>[] = [];
    const t = now.getTime();
    const limits = new Map<string, number>();
    for (const h of this.handoffs.values()) {
      if (h.stuck) continue;
      const age = t - Date.parse(h.created_at);
      const fields = {
        task_message_id: h.task_message_id,
        task_id: h.task_id,
        conversation_id: h.conversation_id,
        from: h.from,
        to: h.to,
        attempt: h.attempt,
        age_ms: age,
      };
      const deadline = h.deadline === undefined ? undefined : Date.parse(h.deadline);
      let limit = limits.get(h.to);
      if (limit === undefined) {
        limit = this.normalLimitMs(h.to);
        limits.set(h.to, limit);
      }
      if (deadline !== undefined && t > deadline) {
        out.push({
          type: "handoff_stuck",
          ...fields,
          reason: "deadline_passed",
          limit_ms: deadline - Date.parse(h.created_at),
        });
      } else if (age > limit) {
        out.push({
          type: "handoff_stuck",
          ...fields,
          reason: "slower_than_normal",
          limit_ms: limit,
        });
      }
    }
    return out;
  }

  /**
   * The state as plain JSON: what a snapshot holds. Each list is cut to `caps` (the snapshot's,
   * by default; `Infinity` for all of it), and what was left out is counted in `omitted`.
   */
  toData(caps: Record<keyof typeof SNAPSHOT_CAPS, number> = SNAPSHOT_CAPS): ObserverStateData {
    const omitted: Record<string, number> = {};
    const cut = <T>(name: keyof typeof SNAPSHOT_CAPS, values: Iterable<T>, newest = true) => {
      const { kept, omitted: n } = capped(values, caps[name], newest);
      if (n > 0) omitted[name] = n;
      return kept;
    };
    const openByAgent: Record<string, number> = {};
    for (const agent of new Set([...this.#openByAgent.keys(), ...this.#omittedByAgent.keys()])) {
      openByAgent[agent] = this.#inFlight(agent);
    }
    const data: ObserverStateData = {
      messages_seen: this.messagesSeen,
      malformed_seen: this.malformedSeen,
      events_by_type: this.eventsByType,
      positions: [...this.positions.values()],
      agents: [...this.agents.values()],
      queues: [...this.queues.values()],
      // The oldest open handoffs: the ones stuck first
      handoffs_open: cut("handoffs_open", this.handoffs.values(), false),
      errors: cut("errors", this.errors.values()),
      error_counts: this.errorCounts,
      usage: [...this.usage.values()],
      recent_message_ids: cut(
        "recent_message_ids",
        [...this.recentIds].map(([message_id, seq]) => ({ message_id, seq })),
      ),
      recent_closed_tasks: cut("recent_closed_tasks", this.recentClosed.keys()),
      conversations: cut("conversations", this.conversations.values()),
      pending_replies: cut("pending_replies", this.heldReplies.values()),
      superseded_handoffs: cut("superseded_handoffs", this.superseded.values()),
      processes: this.runtime.toData(),
      open_by_agent: openByAgent,
    };
    if (Object.keys(omitted).length > 0) data.omitted = omitted;
    if (this.dropped.size > 0) data.dropped = Object.fromEntries(this.dropped);
    return structuredClone(data);
  }
}
