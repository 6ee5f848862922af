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
 * - `TASK` attempt 1 -> `handoff_started`; attempt > 1 -> `handoff_retried` (the previous attempt
 *   of the same task to the same agent is closed);
 * - `TASK` to a queue whose group was last sampled with no members -> `task_unconsumed`;
 * - `TASK`s of one conversation going both a->b and b->a, LOOP_TASKS or more in all ->
 *   `handoff_loop` (once per conversation);
 * - `RESULT`/`ERROR` answering an open handoff -> `handoff_completed`/`handoff_failed` with the
 *   latency between the two envelopes' `created_at`; answering none (and no recently closed one)
 *   -> `reply_orphaned`;
 * - an open handoff past its `deadline` -> `handoff_stuck` (`deadline_passed`); with no deadline
 *   reached, older than max(STUCK_AFTER_MS, 5x the p95 of the agent's recent latencies) ->
 *   `handoff_stuck` (`slower_than_normal`). Reported once; a late answer still completes it.
 *
 * Memory is bounded: open handoffs, recent ids, conversations and folded errors are capped, the
 * oldest dropped first.
 */

import { agentOfTopic, groupFor } from "@mat/agents/protocol";
import type {
  DiffBody,
  DiffRecord,
  ErrorFold,
  MessageRecord,
  ObserverStateData,
  Position,
} from "./record_format.ts";

export const LOOP_TASKS = 4;
export const LIMITS = {
  openHandoffs: 50_000,
  recentMessageIds: 4_096,
  recentClosedTasks: 4_096,
  conversations: 2_000,
  errors: 1_000,
  latencies: 100,
};

type AgentData = ObserverStateData["agents"][number];
type QueueData = ObserverStateData["queues"][number];
type HandoffData = ObserverStateData["handoffs_open"][number];
type UsageData = ObserverStateData["usage"][number];
type ConversationData = ObserverStateData["conversations"][number];

export interface StateOptions {
  prefix: string;
  windowSize: number;
  stuckAfterMs: number;
}

/** Moves a key to the newest end of an insertion-ordered map, dropping the oldest over `cap` */
function touch<K, V>(map: Map<K, V>, key: K, value: V, cap: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > cap) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
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

  constructor(options: StateOptions, data?: ObserverStateData) {
    this.options = options;
    if (data === undefined) return;
    this.messagesSeen = data.messages_seen;
    this.malformedSeen = data.malformed_seen;
    this.eventsByType = { ...data.events_by_type };
    for (const p of data.positions) this.positions.set(`${p.topic}:${p.partition}`, p);
    for (const a of data.agents) this.agents.set(a.agent, a);
    for (const q of data.queues) this.queues.set(q.agent, q);
    for (const h of data.handoffs_open) this.handoffs.set(h.task_message_id, h);
    for (const e of data.errors) this.errors.set(e.fingerprint, e);
    this.errorCounts = data.error_counts;
    for (const u of data.usage) this.usage.set(`${u.agent}|${u.model}`, u);
    for (const r of data.recent_message_ids) this.recentIds.set(r.message_id, r.seq);
    for (const t of data.recent_closed_tasks) this.recentClosed.set(t, true);
    for (const c of data.conversations) this.conversations.set(c.conversation_id, c);
  }

  #agent(name: string): AgentData {
    let a = this.agents.get(name);
    if (a === undefined) {
      a = newAgent(name);
      this.agents.set(name, a);
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
    if (old === undefined || BigInt(old.offset) < BigInt(p.offset)) this.positions.set(key, p);
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
          this.usage.set(key, u);
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
        if (r.type === "handoff_retried") this.#close(r.previous_message_id);
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
        if (r.type === "handoff_started") {
          h.created_at = r.created_at;
          if (r.deadline !== undefined) h.deadline = r.deadline;
        }
        touch(this.handoffs, r.task_message_id, h, LIMITS.openHandoffs);
        this.#agent(r.to).in_flight = this.#inFlight(r.to);
        break;
      }
      case "handoff_completed":
      case "handoff_failed": {
        this.#close(r.task_message_id);
        const a = this.#agent(r.to);
        if (r.type === "handoff_completed") {
          a.tasks_completed++;
          a.recent_latencies_ms = [...a.recent_latencies_ms, r.latency_ms].slice(-LIMITS.latencies);
        } else a.tasks_failed++;
        a.in_flight = this.#inFlight(r.to);
        break;
      }
      case "handoff_stuck": {
        const h = this.handoffs.get(r.task_message_id);
        if (h !== undefined) h.stuck = true;
        this.#agent(r.to).tasks_stuck++;
        break;
      }
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
        const { type: _t, schema_version: _v, seq: _s, ts: _ts, ...fold } = r;
        touch(this.errors, r.fingerprint, fold, LIMITS.errors);
        bump(this.errorCounts.by_severity, r.severity);
        bump(this.errorCounts.by_category, r.category);
        bump(this.errorCounts.by_agent, r.agent ?? "unknown");
        break;
      }
      case "topic_reset":
        this.positions.delete(`${r.topic}:${r.partition}`);
        break;
      case "message_duplicated":
      case "reply_orphaned":
      case "task_unconsumed":
      case "queue_status_changed":
        break;
    }
  }

  #inFlight(agent: string): number {
    let n = 0;
    for (const h of this.handoffs.values()) if (h.to === agent) n++;
    return n;
  }

  #close(taskMessageId: string): void {
    if (this.handoffs.delete(taskMessageId)) {
      touch(this.recentClosed, taskMessageId, true, LIMITS.recentClosedTasks);
    }
  }

  #countEdge(r: MessageRecord): void {
    const c = this.conversations.get(r.conversation_id) ??
      { conversation_id: r.conversation_id, edges: {}, loop_reported: false };
    bump(c.edges, `${r.source}>${r.target}`);
    touch(this.conversations, r.conversation_id, c, LIMITS.conversations);
  }

  /** Derived events for a `message` record not yet applied */
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
      const previous = r.attempt > 1
        ? [...this.handoffs.values()].find((h) => h.task_id === r.task_id && h.to === r.target)
        : undefined;
      if (r.attempt > 1) {
        out.push({
          type: "handoff_retried",
          task_message_id: r.message_id,
          ...handoff,
          previous_message_id: previous?.task_message_id ?? "",
        });
      } else {
        out.push({
          type: "handoff_started",
          task_message_id: r.message_id,
          ...handoff,
          created_at: r.created_at,
          ...(r.deadline === undefined ? {} : { deadline: r.deadline }),
        });
      }
      const agent = agentOfTopic(r.topic, this.options.prefix);
      const queue = agent === undefined ? undefined : this.queues.get(agent);
      if (agent !== undefined && queue !== undefined && queue.members === 0) {
        out.push({
          type: "task_unconsumed",
          topic: r.topic,
          agent,
          group: groupFor(agent, this.options.prefix),
          task_message_id: r.message_id,
          message_seq: r.seq,
        });
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
      const task = this.handoffs.get(r.in_reply_to);
      if (task !== undefined) {
        const latency = Math.max(0, Date.parse(r.created_at) - Date.parse(task.created_at));
        const fields = {
          task_message_id: task.task_message_id,
          task_id: task.task_id,
          conversation_id: task.conversation_id,
          from: task.from,
          to: task.to,
          attempt: task.attempt,
          reply_message_id: r.message_id,
          latency_ms: latency,
          message_seq: r.seq,
        };
        if (r.msg_type === "RESULT") out.push({ type: "handoff_completed", ...fields });
        else {
          out.push({
            type: "handoff_failed",
            ...fields,
            error_kind: r.error?.kind ?? "unknown",
            error_message: r.error?.message ?? "",
            retryable: r.error?.retryable ?? false,
          });
        }
      } else if (!this.recentClosed.has(r.in_reply_to)) {
        out.push({
          type: "reply_orphaned",
          message_id: r.message_id,
          in_reply_to: r.in_reply_to,
          msg_type: r.msg_type,
          source: r.source,
          target: r.target,
          conversation_id: r.conversation_id,
          task_id: r.task_id,
          message_seq: r.seq,
        });
      }
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
  stuck(now: Date): DiffBody[] {
    const out: DiffBody[] = [];
    const t = now.getTime();
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
      const limit = this.normalLimitMs(h.to);
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

  /** The whole state as plain JSON (what a snapshot holds) */
  toData(): ObserverStateData {
    return structuredClone({
      messages_seen: this.messagesSeen,
      malformed_seen: this.malformedSeen,
      events_by_type: this.eventsByType,
      positions: [...this.positions.values()],
      agents: [...this.agents.values()],
      queues: [...this.queues.values()],
      handoffs_open: [...this.handoffs.values()],
      errors: [...this.errors.values()],
      error_counts: this.errorCounts,
      usage: [...this.usage.values()],
      recent_message_ids: [...this.recentIds].map(([message_id, seq]) => ({ message_id, seq })),
      recent_closed_tasks: [...this.recentClosed.keys()],
      conversations: [...this.conversations.values()],
    });
  }
}
