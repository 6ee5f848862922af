/**
 * The observer's state: the fold of the diff history. `apply` folds one record in, and nothing
 * else changes it, so a snapshot plus the records after it rebuilds the state at any later seq.
 * The rules that derive new records from it only read it: `derive_rules.ts` (from a message) and
 * `stuck_rules.ts` (from the clock); the recorder appends what they return, then applies it.
 *
 * Memory is bounded (`LIMITS`): open handoffs, recent ids, conversations and folded errors are
 * capped, the oldest dropped first, and what was dropped is counted (`dropped`). A snapshot is
 * bounded too (`SNAPSHOT_CAPS`, `toData`): past a cap a list keeps its oldest open handoffs or
 * newest entries, and says how many it left out (`omitted`); the open handoffs per agent stay
 * counted in full.
 */

import { bump, touch } from "./bounded_map.ts";
import { type FoldOptions, recordFoldOptions } from "./fold_options.ts";
import { type HandoffData, handoffOf, OpenHandoffs } from "./open_handoffs.ts";
import type {
  DiffRecord,
  ErrorFold,
  MessageRecord,
  ObserverStateData,
  Position,
  SnapshotBody,
} from "./record_format.ts";
import { ProcessState as RuntimeState } from "./process_state.ts";
import { endsSeries, queueKey } from "./queue_series.ts";
import { capped, SNAPSHOT_CAPS, type SnapshotCaps } from "./snapshot_caps.ts";
import { LIMITS } from "./state_limits.ts";
import { compareOffsets } from "@mat/agents/protocol";

type AgentData = ObserverStateData["agents"][number];
type QueueData = ObserverStateData["queues"][number];
type UsageData = ObserverStateData["usage"][number];
type ConversationData = ObserverStateData["conversations"][number];
/** A reply held for its TASK (the early-reply rule of `derive_rules.ts`) */
export type HeldReplyData = NonNullable<ObserverStateData["pending_replies"]>[number];

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
  /**
   * The options it folds with. Only a replay changes them, where the history says the observer
   * restarted with others (`observer_started`'s `fold_options`)
   */
  options: FoldOptions;
  messagesSeen = 0;
  malformedSeen = 0;
  eventsByType: Record<string, number> = {};
  readonly positions = new Map<string, Position>();
  readonly agents = new Map<string, AgentData>();
  /** One entry per queue series (an agent queue and a group reading it), by `queueKey` */
  readonly queues = new Map<string, QueueData>();
  /** Open handoffs, by task message, with their counts per agent */
  readonly handoffs = new OpenHandoffs(LIMITS.openHandoffs);
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
  /** Entries the bounded structures dropped, per structure (part of the state: in snapshots) */
  readonly dropped = new Map<string, number>();

  constructor(options: FoldOptions, data?: ObserverStateData) {
    this.options = options;
    this.runtime = new RuntimeState(data?.processes);
    if (data === undefined) return;
    this.messagesSeen = data.messages_seen;
    this.malformedSeen = data.malformed_seen;
    this.eventsByType = { ...data.events_by_type };
    for (const p of data.positions) this.positions.set(`${p.topic}:${p.partition}`, p);
    for (const a of data.agents) this.agents.set(a.agent, a);
    for (const q of data.queues) this.queues.set(queueKey(q), q);
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
    this.handoffs.restoreOmitted(data.open_by_agent ?? {});
  }

  #drop(structure: string, n: number): void {
    if (n > 0) this.dropped.set(structure, (this.dropped.get(structure) ?? 0) + n);
  }

  /** Opens a handoff (the oldest open ones are dropped past the cap, and counted) */
  #openHandoff(h: HandoffData): void {
    this.#drop("handoffs_open", this.handoffs.open(h));
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

  /** The series of an agent's queue: one per group reading it (or one with group "") */
  queuesOf(agent: string): QueueData[] {
    return [...this.queues.values()].filter((q) => q.agent === agent);
  }

  /** The last offset recorded in a partition */
  position(topic: string, partition: number): Position | undefined {
    return this.positions.get(`${topic}:${partition}`);
  }

  #setPosition(p: Position): void {
    const key = `${p.topic}:${p.partition}`;
    const old = this.positions.get(key);
    if (old === undefined || compareOffsets(old.offset, p.offset) < 0) this.positions.set(key, p);
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
            ...handoffOf(r),
            observed_at: r.ts,
            started_seq: r.seq,
            stuck: false,
          };
          if (r.deadline !== undefined) h.deadline = r.deadline;
          this.#openHandoff(h);
          target.in_flight = this.handoffs.inFlight(r.target);
        }
        if (r.msg_type === "HEARTBEAT" && r.in_reply_to !== undefined) {
          // Progress of a task: waiting on a person, or going again
          const h = this.handoffs.get(r.in_reply_to);
          if (h !== undefined && r.waiting_on !== undefined) h.waiting_on = r.waiting_on;
          else if (h !== undefined) delete h.waiting_on;
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
        this.#agent(r.to).in_flight = this.handoffs.inFlight(r.to);
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
        a.in_flight = this.handoffs.inFlight(r.to);
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
        const key = queueKey(r);
        const old = this.queues.get(key);
        const point = { at: r.ts, partitions: r.partitions };
        // The series of this queue whose group is no longer read for it have ended
        for (const [k, q] of this.queues) if (k !== key && endsSeries(r, q)) this.queues.delete(k);
        this.queues.set(key, {
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
          ...(r.group_source === undefined ? {} : { group_source: r.group_source }),
        });
        this.#agent(r.agent).status = this.queuesOf(r.agent).some((q) => q.members > 0)
          ? "up"
          : "down";
        break;
      }
      case "error": {
        const {
          type: _t,
          schema_version: _v,
          seq: _s,
          ts: _ts,
          occurrences,
          conversation_ids: _c,
          ...fold
        } = r;
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
      case "consumer_restarted":
        break;
    }
  }

  #close(taskMessageId: string, agent: string): void {
    if (this.handoffs.close(taskMessageId, agent)) {
      touch(this.recentClosed, taskMessageId, true, LIMITS.recentClosedTasks);
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

  /** The snapshot of the state reflecting the diff records up to `diffSeq`, with its options */
  snapshot(diffSeq: number): SnapshotBody {
    return {
      type: "snapshot",
      diff_seq: diffSeq,
      state: this.toData(),
      fold_options: recordFoldOptions(this.options),
    };
  }

  /**
   * The state as plain JSON: what a snapshot holds. Each list is cut to `caps` (the snapshot's,
   * by default; `Infinity` for all of it), and what was left out is counted in `omitted`.
   */
  toData(caps: SnapshotCaps = SNAPSHOT_CAPS): ObserverStateData {
    const omitted: Record<string, number> = {};
    const cut = <T>(name: keyof typeof SNAPSHOT_CAPS, values: Iterable<T>, newest = true) => {
      const { kept, omitted: n } = capped(values, caps[name], newest);
      if (n > 0) omitted[name] = n;
      return kept;
    };
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
      open_by_agent: this.handoffs.countsByAgent(),
    };
    if (Object.keys(omitted).length > 0) data.omitted = omitted;
    if (this.dropped.size > 0) data.dropped = Object.fromEntries(this.dropped);
    return structuredClone(data);
  }
}
