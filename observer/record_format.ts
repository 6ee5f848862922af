/**
 * The time-machine record format, owned by the observer and read by anyone replaying history.
 *
 * Two append-only JSONL histories live in `TELEMETRY_DATA_DIR`:
 * - `diff_time_machine.jsonl` (+ numbered segments): one event per line, as it happens;
 * - `state_time_machine.jsonl` (+ numbered segments): one full `snapshot` per line.
 *
 * Every line is one JSON object starting with the common header
 * `{"schema_version":1,"seq":N,"ts":"ISO","type":"..."}`. `seq` grows by one per line of the
 * same history (the two histories count separately); `ts` is when the observer wrote it.
 *
 * Diff record types (snake_case):
 * | type                   | when                                                                 |
 * |------------------------|----------------------------------------------------------------------|
 * | `observer_started`     | the observer (re)started; how it resumed                             |
 * | `segment_started`      | first line of every diff segment: the observer's position everywhere |
 * | `message`              | every valid envelope seen, with its Kafka coordinates                |
 * | `message_malformed`    | a record that is not JSON or not a valid envelope, with the reason   |
 * | `message_duplicated`   | a `message_id` seen a second time (delivered twice)                  |
 * | `handoff_started`      | a `TASK` (older histories; now the TASK's `message` has `handoff`)   |
 * | `handoff_retried`      | a `TASK` with `attempt` > 1 for a task already seen                  |
 * | `handoff_completed`    | the `RESULT` answering a seen `TASK`, with its latency               |
 * | `handoff_failed`       | the `ERROR` answering a seen `TASK`                                  |
 * | `handoff_stuck`        | no answer by the deadline, or long past what is normal for the agent |
 * | `handoffs_stuck`       | many handoffs stuck at one check (a flood): up to 500 per record     |
 * | `reply_held`           | a `RESULT`/`ERROR` seen before its `TASK`, held ORPHAN_GRACE_MS      |
 * | `reply_orphaned`       | a `RESULT`/`ERROR` whose `TASK` was never seen (after the hold)      |
 * | `task_unconsumed`      | (older histories; now the TASK's `message` has `unconsumed: true`)   |
 * | `handoff_loop`         | tasks bouncing between two agents in one conversation                |
 * | `queue_sample`         | one poll of an agent's queue and consumer group (lag, members...)    |
 * | `queue_status_changed` | the Burrow-style status of a group changed                           |
 * | `error`                | a structured error occurrence, folded by fingerprint (with count)    |
 * | `topic_reset`          | a partition's offsets went back (topic deleted and recreated)        |
 * | `runtime_event`        | a pod or process change (runtime source), with the tasks it held    |
 * | `segment_deleted`      | retention deleted the oldest segment of a history (bytes, last seq)  |
 *
 * A `TASK` costs one line: its `message` record carries `handoff: "started"` (attempt 1: the
 * message itself opens the handoff) and `unconsumed: true` when its queue had no reader. An
 * `error` record folds `occurrences` occurrences (1 unless several of one fingerprint came within
 * one sync interval: they are coalesced into one line; `count` is the fold's running total).
 *
 * Only `message` and `message_malformed` carry Kafka coordinates that move the observer's position.
 */

import {
  array,
  bool,
  type Check,
  dict,
  type Infer,
  int,
  isoTime,
  isPlainObject,
  kafkaOffset,
  literal,
  nat,
  NO_PATH,
  nullable,
  num,
  object,
  optional,
  RecordShapeError,
  str,
} from "./record_shape.ts";
import { RUNTIME_EVENT_KINDS } from "./process_event.ts";

/** Version of the record format written by this code */
export const RECORD_SCHEMA_VERSION = 1;

export const DIFF_FILE_BASE = "diff_time_machine";
export const STATE_FILE_BASE = "state_time_machine";

const header = {
  schema_version: int,
  seq: nat,
  ts: isoTime,
};

const positionShape = { topic: str, partition: nat, offset: kafkaOffset };
const position = object(positionShape);
/** The last offset the observer recorded in one partition */
export type Position = Infer<typeof positionShape>;

const coordinates = { topic: str, partition: nat, offset: kafkaOffset };

export const SEVERITIES = ["critical", "error", "warning", "info"] as const;
export type Severity = typeof SEVERITIES[number];
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

const handoffFields = {
  task_message_id: str,
  task_id: str,
  conversation_id: str,
  from: str,
  to: str,
  attempt: nat,
};

const errorFoldShape = {
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

const heldReplyShape = {
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
  error: optional(object({ kind: str, message: str, retryable: bool })),
};

/** A task that was in flight on an agent when its pod or process went away (its handoff) */
const { to: _to, ...lostTaskShape } = handoffFields;

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

const shapes = {
  observer_started: {
    ...header,
    type: literal("observer_started"),
    pid: nat,
    resumed_partitions: nat,
    torn_bytes_cut: nat,
    positions: array(position),
  },
  segment_started: {
    ...header,
    type: literal("segment_started"),
    segment: nat,
    positions: array(position),
  },
  message: {
    ...header,
    type: literal("message"),
    ...coordinates,
    observed_at: isoTime,
    kafka_timestamp: nullable(isoTime),
    key: nullable(str),
    agent: nullable(str),
    message_id: str,
    msg_type: literal("TASK", "RESULT", "ERROR", "HEARTBEAT", "CANCEL"),
    source: str,
    target: str,
    conversation_id: str,
    task_id: str,
    attempt: nat,
    created_at: isoTime,
    in_reply_to: optional(str),
    deadline: optional(isoTime),
    traceparent: optional(str),
    error: optional(object({ kind: str, message: str, retryable: bool })),
    usage: optional(object({
      model: str,
      input_tokens: nat,
      output_tokens: nat,
      cost_usd: num,
      latency_ms: num,
    })),
    payload_bytes: nat,
    /** The payload as JSON text, secrets replaced by `[REDACTED]`, cut to a size cap */
    payload_preview: str,
    payload_truncated: bool,
    redactions: nat,
    /** A TASK (attempt 1, first delivery): the message opens its handoff */
    handoff: optional(literal("started")),
    /** A TASK to a queue whose consumer group had no members when it was seen */
    unconsumed: optional(bool),
  },
  message_malformed: {
    ...header,
    type: literal("message_malformed"),
    ...coordinates,
    observed_at: isoTime,
    /** The agent whose queue it was on */
    agent: nullable(str),
    /** The agent that produced it, from the record's `x-agent` header, when present */
    sender: optional(str),
    reason: str,
    value_bytes: nat,
    value_preview: str,
    redactions: nat,
  },
  message_duplicated: {
    ...header,
    type: literal("message_duplicated"),
    ...coordinates,
    message_id: str,
    first_seq: nat,
  },
  handoff_started: {
    ...header,
    type: literal("handoff_started"),
    ...handoffFields,
    created_at: isoTime,
    deadline: optional(isoTime),
    message_seq: nat,
  },
  handoff_retried: {
    ...header,
    type: literal("handoff_retried"),
    ...handoffFields,
    previous_message_id: str,
    message_seq: nat,
    /** The retried TASK's own times (absent in records of older observers) */
    created_at: optional(isoTime),
    deadline: optional(isoTime),
  },
  handoff_completed: {
    ...header,
    type: literal("handoff_completed"),
    ...handoffFields,
    reply_message_id: str,
    latency_ms: num,
    message_seq: nat,
  },
  handoff_failed: {
    ...header,
    type: literal("handoff_failed"),
    ...handoffFields,
    reply_message_id: str,
    latency_ms: num,
    error_kind: str,
    error_message: str,
    retryable: bool,
    message_seq: nat,
  },
  handoff_stuck: {
    ...header,
    type: literal("handoff_stuck"),
    ...handoffFields,
    reason: literal("deadline_passed", "slower_than_normal"),
    age_ms: num,
    limit_ms: num,
  },
  /** Many handoffs found stuck at one check, in one line (at most STUCK_BATCH of them) */
  handoffs_stuck: {
    ...header,
    type: literal("handoffs_stuck"),
    handoffs: array(object({
      ...handoffFields,
      reason: literal("deadline_passed", "slower_than_normal"),
      age_ms: num,
      limit_ms: num,
    })),
  },
  reply_orphaned: {
    ...header,
    type: literal("reply_orphaned"),
    message_id: str,
    in_reply_to: str,
    msg_type: str,
    source: str,
    target: str,
    conversation_id: str,
    task_id: str,
    message_seq: nat,
  },
  /**
   * A reply observed before its TASK (topics are not read in one global order). It is held until
   * `hold_until`: the TASK arriving meanwhile completes the handoff, else `reply_orphaned` follows.
   */
  reply_held: {
    ...header,
    type: literal("reply_held"),
    ...heldReplyShape,
  },
  task_unconsumed: {
    ...header,
    type: literal("task_unconsumed"),
    topic: str,
    agent: str,
    group: str,
    task_message_id: str,
    message_seq: nat,
  },
  handoff_loop: {
    ...header,
    type: literal("handoff_loop"),
    conversation_id: str,
    agents: array(str),
    tasks: nat,
    message_seq: nat,
  },
  queue_sample: {
    ...header,
    type: literal("queue_sample"),
    agent: str,
    topic: str,
    group: str,
    group_state: str,
    members: array(object({ member_id: str, client_id: str, host: str })),
    partitions: array(
      object({ partition: nat, high: kafkaOffset, committed: nullable(kafkaOffset), lag: nat }),
    ),
    lag: nat,
    status: literal(...QUEUE_STATUSES),
    status_reason: str,
  },
  queue_status_changed: {
    ...header,
    type: literal("queue_status_changed"),
    agent: str,
    group: str,
    from: nullable(literal(...QUEUE_STATUSES)),
    to: literal(...QUEUE_STATUSES),
    reason: str,
  },
  error: {
    ...header,
    type: literal("error"),
    ...errorFoldShape,
    /** Occurrences this line stands for (absent: 1) */
    occurrences: optional(nat),
  },
  runtime_event: {
    ...header,
    type: literal("runtime_event"),
    source: literal("k8s", "local"),
    kind: literal(...RUNTIME_EVENT_KINDS),
    agent: nullable(str),
    process: str,
    namespace: optional(str),
    /** When it happened, by the runtime's clock */
    at: isoTime,
    restart_count: optional(nat),
    reason: optional(str),
    exit_code: optional(int),
    signal: optional(str),
    message: optional(str),
    cpu_millicores: optional(num),
    memory_bytes: optional(num),
    /** On `exited`, `restarted`, `evicted`, `deleted`: the agent's open handoffs at that moment */
    tasks_in_flight: array(object(lostTaskShape)),
    /** Open handoffs past the cap of `tasks_in_flight` (absent: none) */
    tasks_in_flight_omitted: optional(nat),
  },
  topic_reset: {
    ...header,
    type: literal("topic_reset"),
    topic: str,
    partition: nat,
    previous_offset: kafkaOffset,
    reason: str,
  },
  /** Retention deleted a closed segment of a history (OBSERVER_RETAIN_BYTES) */
  segment_deleted: {
    ...header,
    type: literal("segment_deleted"),
    history: literal("diff", "state"),
    file: str,
    bytes: nat,
    /** The last seq the deleted segment held, when it could be read */
    last_seq: nullable(nat),
    retain_bytes: nat,
  },
} as const;

const openHandoffShape = {
  ...handoffFields,
  created_at: isoTime,
  deadline: optional(isoTime),
  observed_at: isoTime,
  started_seq: nat,
  stuck: bool,
};

const partitionSample = object({
  partition: nat,
  high: kafkaOffset,
  committed: nullable(kafkaOffset),
  lag: nat,
});

/** The observer's whole state: what a snapshot holds, rebuilt by replaying diff records */
export const stateShape = {
  messages_seen: nat,
  malformed_seen: nat,
  events_by_type: dict(nat),
  positions: array(position),
  agents: array(object({
    agent: str,
    status: literal("up", "down", "unknown"),
    last_seen: nullable(isoTime),
    in_flight: nat,
    messages_sent: nat,
    messages_received: nat,
    tasks_received: nat,
    tasks_completed: nat,
    tasks_failed: nat,
    tasks_stuck: nat,
    llm_errors: nat,
    /** Recent handoff latencies (ms), the base of what is "normal" for the agent */
    recent_latencies_ms: array(num),
  })),
  queues: array(object({
    agent: str,
    topic: str,
    group: str,
    status: literal(...QUEUE_STATUSES),
    status_reason: str,
    lag: nat,
    group_state: str,
    members: nat,
    partitions: array(partitionSample),
    sampled_at: isoTime,
    window: array(object({ at: isoTime, partitions: array(partitionSample) })),
  })),
  handoffs_open: array(object(openHandoffShape)),
  errors: array(object(errorFoldShape)),
  error_counts: object({
    by_severity: dict(nat),
    by_category: dict(nat),
    by_agent: dict(nat),
  }),
  usage: array(object({
    agent: str,
    model: str,
    calls: nat,
    input_tokens: nat,
    output_tokens: nat,
    cost_usd: num,
    latency_ms_total: num,
  })),
  recent_message_ids: array(object({ message_id: str, seq: nat })),
  recent_closed_tasks: array(str),
  conversations: array(object({
    conversation_id: str,
    edges: dict(nat),
    loop_reported: bool,
  })),
  /** Replies held while their TASK is not seen yet (absent in snapshots of older observers) */
  pending_replies: optional(array(object(heldReplyShape))),
  /** Agent pods or processes seen by the runtime source (absent in older snapshots) */
  processes: optional(array(object(processShape))),
  /** Attempts closed by a retry, whose late reply still completes them (absent in older ones) */
  superseded_handoffs: optional(array(object(openHandoffShape))),
  /**
   * Entries a snapshot left out to stay small, per list (`handoffs_open`, `conversations`...):
   * the observer holds them in memory, a replay from this snapshot does not
   */
  omitted: optional(dict(nat)),
  /** Entries the observer's bounded structures dropped since it started, per structure */
  dropped: optional(dict(nat)),
  /** Open handoffs per agent, all of them (the list above may be cut) */
  open_by_agent: optional(dict(nat)),
};
export type ObserverStateData = Infer<typeof stateShape>;
export type ErrorFold = Infer<typeof errorFoldShape>;

const snapshotShape = {
  ...header,
  type: literal("snapshot"),
  /** Every diff record with `seq` <= this is reflected in the snapshot */
  diff_seq: nat,
  state: object(stateShape),
};

export type ObserverStartedRecord = Infer<typeof shapes.observer_started>;
export type SegmentStartedRecord = Infer<typeof shapes.segment_started>;
export type MessageRecord = Infer<typeof shapes.message>;
export type MessageMalformedRecord = Infer<typeof shapes.message_malformed>;
export type MessageDuplicatedRecord = Infer<typeof shapes.message_duplicated>;
export type HandoffStartedRecord = Infer<typeof shapes.handoff_started>;
export type HandoffRetriedRecord = Infer<typeof shapes.handoff_retried>;
export type HandoffCompletedRecord = Infer<typeof shapes.handoff_completed>;
export type HandoffFailedRecord = Infer<typeof shapes.handoff_failed>;
export type HandoffStuckRecord = Infer<typeof shapes.handoff_stuck>;
export type ReplyOrphanedRecord = Infer<typeof shapes.reply_orphaned>;
export type ReplyHeldRecord = Infer<typeof shapes.reply_held>;
export type TaskUnconsumedRecord = Infer<typeof shapes.task_unconsumed>;
export type HandoffLoopRecord = Infer<typeof shapes.handoff_loop>;
export type QueueSampleRecord = Infer<typeof shapes.queue_sample>;
export type QueueStatusChangedRecord = Infer<typeof shapes.queue_status_changed>;
export type ErrorRecord = Infer<typeof shapes.error>;
export type TopicResetRecord = Infer<typeof shapes.topic_reset>;
export type HandoffsStuckRecord = Infer<typeof shapes.handoffs_stuck>;
export type SegmentDeletedRecord = Infer<typeof shapes.segment_deleted>;
export type RuntimeEventRecord = Infer<typeof shapes.runtime_event>;
export type SnapshotRecord = Infer<typeof snapshotShape>;

export type DiffRecord =
  | ObserverStartedRecord
  | SegmentStartedRecord
  | MessageRecord
  | MessageMalformedRecord
  | MessageDuplicatedRecord
  | HandoffStartedRecord
  | HandoffRetriedRecord
  | HandoffCompletedRecord
  | HandoffFailedRecord
  | HandoffStuckRecord
  | ReplyOrphanedRecord
  | ReplyHeldRecord
  | TaskUnconsumedRecord
  | HandoffLoopRecord
  | QueueSampleRecord
  | QueueStatusChangedRecord
  | ErrorRecord
  | TopicResetRecord
  | RuntimeEventRecord
  | HandoffsStuckRecord
  | SegmentDeletedRecord;

export type DiffRecordType = DiffRecord["type"];
export const DIFF_RECORD_TYPES = Object.keys(shapes) as readonly string[];

/** A record before the writer gives it its header: what callers append */
export type Body<R> = R extends unknown ? Omit<R, "schema_version" | "seq" | "ts"> : never;
export type DiffBody = Body<DiffRecord>;
export type SnapshotBody = Body<SnapshotRecord>;

/** The outcome of validating one line */
export type RecordParse<R> = { ok: true; record: R } | { ok: false; reason: string };

function validator<R>(check: Check<R>): (value: unknown) => RecordParse<R> {
  return (value) => {
    try {
      let record: R;
      try {
        record = check(value, NO_PATH);
      } catch (err) {
        if (!(err instanceof RecordShapeError)) throw err;
        record = check(value, ""); // again, to say where
      }
      if (isPlainObject(value) && value["schema_version"] !== RECORD_SCHEMA_VERSION) {
        const v = value["schema_version"];
        return {
          ok: false,
          reason: `"schema_version" must be ${RECORD_SCHEMA_VERSION}, got ${String(v)}`,
        };
      }
      return { ok: true, record };
    } catch (err) {
      if (err instanceof RecordShapeError) return { ok: false, reason: err.message };
      throw err;
    }
  };
}

export const validateObserverStarted = validator(object(shapes.observer_started));
export const validateSegmentStarted = validator(object(shapes.segment_started));
export const validateMessage = validator(object(shapes.message));
export const validateMessageMalformed = validator(object(shapes.message_malformed));
export const validateMessageDuplicated = validator(object(shapes.message_duplicated));
export const validateHandoffStarted = validator(object(shapes.handoff_started));
export const validateHandoffRetried = validator(object(shapes.handoff_retried));
export const validateHandoffCompleted = validator(object(shapes.handoff_completed));
export const validateHandoffFailed = validator(object(shapes.handoff_failed));
export const validateHandoffStuck = validator(object(shapes.handoff_stuck));
export const validateReplyOrphaned = validator(object(shapes.reply_orphaned));
export const validateReplyHeld = validator(object(shapes.reply_held));
export const validateTaskUnconsumed = validator(object(shapes.task_unconsumed));
export const validateHandoffLoop = validator(object(shapes.handoff_loop));
export const validateQueueSample = validator(object(shapes.queue_sample));
export const validateQueueStatusChanged = validator(object(shapes.queue_status_changed));
export const validateError = validator(object(shapes.error));
export const validateTopicReset = validator(object(shapes.topic_reset));
export const validateRuntimeEvent = validator(object(shapes.runtime_event));
export const validateHandoffsStuck = validator(object(shapes.handoffs_stuck));
export const validateSegmentDeleted = validator(object(shapes.segment_deleted));
export const validateSnapshot = validator(object(snapshotShape));

const diffValidators: Record<DiffRecordType, (value: unknown) => RecordParse<DiffRecord>> = {
  observer_started: validateObserverStarted,
  segment_started: validateSegmentStarted,
  message: validateMessage,
  message_malformed: validateMessageMalformed,
  message_duplicated: validateMessageDuplicated,
  handoff_started: validateHandoffStarted,
  handoff_retried: validateHandoffRetried,
  handoff_completed: validateHandoffCompleted,
  handoff_failed: validateHandoffFailed,
  handoff_stuck: validateHandoffStuck,
  reply_orphaned: validateReplyOrphaned,
  reply_held: validateReplyHeld,
  task_unconsumed: validateTaskUnconsumed,
  handoff_loop: validateHandoffLoop,
  queue_sample: validateQueueSample,
  queue_status_changed: validateQueueStatusChanged,
  error: validateError,
  topic_reset: validateTopicReset,
  runtime_event: validateRuntimeEvent,
  handoffs_stuck: validateHandoffsStuck,
  segment_deleted: validateSegmentDeleted,
};

function isDiffType(value: unknown): value is DiffRecordType {
  return typeof value === "string" && Object.hasOwn(diffValidators, value);
}

/** Narrows one parsed line of the diff history to a typed record, or says why not */
export function validateDiffRecord(value: unknown): RecordParse<DiffRecord> {
  const type = isPlainObject(value) ? value["type"] : undefined;
  if (!isDiffType(type)) {
    return { ok: false, reason: `"type" must be a diff record type, got ${JSON.stringify(type)}` };
  }
  return diffValidators[type](value);
}

/** The Kafka position a record moves, if it is one that carries coordinates */
export function positionOf(record: DiffRecord | DiffBody): Position | undefined {
  if (record.type === "message" || record.type === "message_malformed") {
    return { topic: record.topic, partition: record.partition, offset: record.offset };
  }
  return undefined;
}

export const validatePosition = validator(position);
