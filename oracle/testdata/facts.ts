/**
 * Builders of window facts for the rules' unit tests: records in the observer's own format (typed
 * by its record types), at times given as seconds after T0, for an agent system of four agents.
 */

import { DEFAULT_FOLD_OPTIONS, queueKey, recordFoldOptions } from "@mat/observer";
import type {
  ErrorRecord,
  GroupSource,
  HandoffCompletedRecord,
  HandoffRetriedRecord,
  HandoffStuckRecord,
  ObserverStateData,
  ProcessData,
  QueueSampleRecord,
  QueueStatus,
  RuntimeEventRecord,
} from "@mat/observer";
import type { WindowFacts } from "../window_facts.ts";

export const T0 = Date.parse("2026-11-29T10:00:00.000Z");
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

let seq = 0;
const header = (s: number) => ({ schema_version: 1, seq: ++seq, ts: at(s) });

export function emptyState(): ObserverStateData {
  return {
    messages_seen: 0,
    malformed_seen: 0,
    events_by_type: {},
    positions: [],
    agents: [],
    queues: [],
    handoffs_open: [],
    errors: [],
    error_counts: { by_severity: {}, by_category: {}, by_agent: {} },
    usage: [],
    recent_message_ids: [],
    recent_closed_tasks: [],
    conversations: [],
    pending_replies: [],
    processes: [],
  };
}

export function facts(partial: Partial<WindowFacts> = {}, endAt = 120): WindowFacts {
  return {
    from: T0 - 60_000,
    to: T0 + endAt * 1000,
    asOf: T0 + endAt * 1000,
    end: emptyState(),
    start: emptyState(),
    rebuilt: {
      snapshot_seq: null,
      snapshot_ts: null,
      diff_records_replayed: 0,
      fold_options: { ...recordFoldOptions(DEFAULT_FOLD_OPTIONS), source: "default" },
    },
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
    userInbox: DEFAULT_FOLD_OPTIONS.userInbox,
    ...partial,
  };
}

export interface SampleSpec {
  status?: QueueStatus;
  lag?: number;
  members?: number;
  committed?: string | null;
  high?: string;
  /** The group sampled (default `agent-<agent>`, as older observers named it; "" for none) */
  group?: string;
  /** `group_source` (default: absent, as in older histories) */
  source?: GroupSource;
  /** `topic_groups` (default: absent, as in older histories) */
  topicGroups?: string[];
}

export function sample(agent: string, s: number, spec: SampleSpec = {}): QueueSampleRecord {
  const lag = spec.lag ?? 0;
  const committed = spec.committed === undefined ? "10" : spec.committed;
  const high = spec.high ?? String(Number(committed ?? "0") + lag);
  return {
    ...header(s),
    type: "queue_sample",
    agent,
    topic: `agent-queue-${agent}`,
    group: spec.group ?? `agent-${agent}`,
    group_state: (spec.members ?? 1) > 0 ? "Stable" : "Empty",
    members: Array.from({ length: spec.members ?? 1 }, (_, i) => ({
      member_id: `m${i}`,
      client_id: `agent-${agent}`,
      host: "/127.0.0.1",
    })),
    partitions: [{ partition: 0, high, committed, lag }],
    lag,
    status: spec.status ?? "OK",
    status_reason: spec.status === undefined || spec.status === "OK" ? "lag is zero" : "test",
    ...(spec.source === undefined ? {} : { group_source: spec.source }),
    ...(spec.topicGroups === undefined ? {} : { topic_groups: spec.topicGroups }),
  };
}

/** Window facts' queue series, keyed as the oracle keys them (per agent and group) */
export function queues(...series: QueueSampleRecord[][]): Map<string, QueueSampleRecord[]> {
  return new Map(series.flatMap((s) => (s[0] ? [[queueKey(s[0]), s]] : [])));
}

/** A series of samples every second from `from` to `to` (inclusive) */
export function series(
  agent: string,
  from: number,
  to: number,
  spec: (s: number) => SampleSpec,
): QueueSampleRecord[] {
  const out: QueueSampleRecord[] = [];
  for (let s = from; s <= to; s++) out.push(sample(agent, s, spec(s)));
  return out;
}

type Task = RuntimeEventRecord["tasks_in_flight"][number];

export function task(conversation: string, to: string, n = 1): Task & { to: string } {
  return {
    task_message_id: `msg-${conversation}-${to}-${n}`,
    task_id: `${conversation}.${n}-${to}`,
    conversation_id: conversation,
    from: "orchestrator",
    attempt: 1,
    to,
  };
}

export function runtime(
  agent: string,
  s: number,
  kind: RuntimeEventRecord["kind"],
  extra: Partial<RuntimeEventRecord> = {},
): RuntimeEventRecord {
  return {
    ...header(s),
    type: "runtime_event",
    source: "local",
    kind,
    agent,
    process: "pid:100",
    at: at(s),
    tasks_in_flight: [],
    ...extra,
  };
}

export function proc(agent: string, pid: number, partial: Partial<ProcessData> = {}): ProcessData {
  return {
    agent,
    process: `pid:${pid}`,
    source: "local",
    status: "running",
    ready: null,
    restart_count: 0,
    started_at: at(0),
    last_event_at: at(0),
    last_termination: null,
    lost_tasks: [],
    memory_bytes: null,
    ...partial,
  };
}

export function stuck(t: Task & { to: string }, s: number): HandoffStuckRecord {
  const { to, ...rest } = t;
  return {
    ...header(s),
    type: "handoff_stuck",
    task_message_id: rest.task_message_id,
    task_id: rest.task_id,
    conversation_id: rest.conversation_id,
    from: rest.from,
    to,
    attempt: rest.attempt,
    reason: "deadline_passed",
    age_ms: 5_000,
    limit_ms: 4_000,
  };
}

export function completed(
  t: Task & { to: string },
  s: number,
  latency = 300,
): HandoffCompletedRecord {
  return {
    ...header(s),
    type: "handoff_completed",
    task_message_id: t.task_message_id,
    task_id: t.task_id,
    conversation_id: t.conversation_id,
    from: t.from,
    to: t.to,
    attempt: t.attempt,
    reply_message_id: `reply-${t.task_message_id}`,
    latency_ms: latency,
    message_seq: seq,
  };
}

export function retried(t: Task & { to: string }, s: number): HandoffRetriedRecord {
  return {
    ...header(s),
    type: "handoff_retried",
    task_message_id: `${t.task_message_id}-retry`,
    task_id: t.task_id,
    conversation_id: t.conversation_id,
    from: t.from,
    to: t.to,
    attempt: 2,
    previous_message_id: t.task_message_id,
    message_seq: seq,
  };
}

export function error(
  agent: string,
  s: number,
  kind: string,
  extra: Partial<ErrorRecord> = {},
): ErrorRecord {
  return {
    ...header(s),
    type: "error",
    fingerprint: `x:${kind}:${agent}`,
    severity: "error",
    category: "agent",
    kind,
    message: `${kind} happened`,
    agent,
    task_id: null,
    conversation_id: null,
    first_seen: at(s),
    last_seen: at(s),
    count: 1,
    evidence: { offsets: [], seqs: [seq] },
    ...extra,
  };
}
