/**
 * The shapes the time-machine records share: the header every line starts with, Kafka positions,
 * the fields of a handoff, an error fold, a held reply, an agent process. Diff records
 * (`diff_records.ts`) and snapshots (`snapshot_record.ts`) are built from them.
 */

import {
  array,
  bool,
  type Infer,
  int,
  isoTime,
  kafkaOffset,
  literal,
  nat,
  nullable,
  num,
  object,
  optional,
  str,
} from "./record_shape.ts";
import { SEVERITIES } from "./severity.ts";

/** `{"schema_version":1,"seq":N,"ts":"ISO", ...}`: the start of every line */
export const header = {
  schema_version: int,
  seq: nat,
  ts: isoTime,
};

export const positionShape = { topic: str, partition: nat, offset: kafkaOffset };
export const position = object(positionShape);
/** The last offset the observer recorded in one partition */
export type Position = Infer<typeof positionShape>;

/** Where a record was read in Kafka */
export const coordinates = { topic: str, partition: nat, offset: kafkaOffset };

export const CATEGORIES = [
  "llm",
  "agent",
  "tool",
  "handoff",
  "timeout",
  "resource",
  "network",
  "validation",
  "config",
  "unknown",
] as const;
export type Category = typeof CATEGORIES[number];
export const QUEUE_STATUSES = ["OK", "WARN", "STALL", "STOP", "ERR"] as const;
export type QueueStatus = typeof QUEUE_STATUSES[number];
/**
 * Where the observer learnt that a group reads an agent queue (`group_source` of a queue sample):
 * - `broker-members`: the broker says members of the group are assigned partitions of the topic;
 * - `broker-offsets`: the broker says the group committed offsets on the topic (no member of it
 *   is assigned the topic: an empty group, or one reading other topics now);
 * - `declared`: OBSERVER_GROUPS names the group for the agent, and the broker says neither;
 * - `none`: no group reads the topic (the sample's `group` is ""): the queue is unread.
 * Samples of older observers have none: their group came from the naming convention
 * `agent-<agent>` (`groupFor`), not from the broker.
 */
export const GROUP_SOURCES = ["broker-members", "broker-offsets", "declared", "none"] as const;
export type GroupSource = typeof GROUP_SOURCES[number];
/** Why a handoff is stuck: past its deadline, or far slower than the agent's normal */
export const STUCK_REASONS = ["deadline_passed", "slower_than_normal"] as const;
export type StuckReason = typeof STUCK_REASONS[number];

export const handoffFields = {
  task_message_id: str,
  task_id: str,
  conversation_id: str,
  from: str,
  to: str,
  attempt: nat,
};

/** The `error` of an ERROR envelope, as recorded */
export const envelopeError = object({ kind: str, message: str, retryable: bool });

export const errorFoldShape = {
  fingerprint: str,
  severity: literal(...SEVERITIES),
  category: literal(...CATEGORIES),
  kind: str,
  message: str,
  agent: nullable(str),
  task_id: nullable(str),
  conversation_id: nullable(str),
  first_seen: isoTime,
  last_seen: isoTime,
  count: nat,
  evidence: object({ offsets: array(object(coordinates)), seqs: array(nat) }),
};
export type ErrorFold = Infer<typeof errorFoldShape>;

export const heldReplyShape = {
  message_id: str,
  in_reply_to: str,
  msg_type: literal("RESULT", "ERROR"),
  source: str,
  target: str,
  conversation_id: str,
  task_id: str,
  created_at: isoTime,
  message_seq: nat,
  hold_until: isoTime,
  error: optional(envelopeError),
};

/** A task that was in flight on an agent when its pod or process went away (its handoff) */
const { to: _to, ...lostTask } = handoffFields;
export const lostTaskShape = lostTask;

const terminationShape = {
  at: isoTime,
  reason: nullable(str),
  exit_code: nullable(int),
  signal: nullable(str),
};

/** What the observer knows of one agent pod or process (runtime sources `k8s` and `local`) */
export const processShape = {
  agent: nullable(str),
  /** Pod name, or `pid:<n>` for a local process */
  process: str,
  source: literal("k8s", "local"),
  status: literal(
    "pending",
    "unschedulable",
    "running",
    "exited",
    "crash_loop",
    "image_pull_backoff",
    "evicted",
    "deleted",
  ),
  ready: nullable(bool),
  restart_count: nat,
  started_at: nullable(isoTime),
  last_event_at: isoTime,
  last_termination: nullable(object(terminationShape)),
  /** Tasks in flight when it last died (most recent first, capped) */
  lost_tasks: array(object({ ...lostTaskShape, at: isoTime })),
  memory_bytes: nullable(num),
};
export type ProcessData = Infer<typeof processShape>;
