/**
 * The diff history's record types, in one table: each type's shape and when it is written. The
 * record types, the union of them, the validator of each and the list the docs name are all
 * derived from it, so a type added here is everywhere at once.
 */

import { WAITING_ON } from "@mat/agents/protocol";
import { foldOptionsShape } from "./fold_options.ts";
import { RUNTIME_EVENT_KINDS } from "./process_event.ts";
import {
  coordinates,
  envelopeError,
  errorFoldShape,
  GROUP_SOURCES,
  handoffFields,
  header,
  heldReplyShape,
  lostTaskShape,
  position,
  QUEUE_STATUSES,
  STUCK_REASONS,
} from "./record_fields.ts";
import {
  array,
  bool,
  type Check,
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
  type Shape,
  str,
} from "./record_shape.ts";

interface Entry<S extends Shape> {
  /** When the observer writes it: the docs' description */
  when: string;
  /** Written only by older observers (readers still read it) */
  legacy?: true;
  /** Its fields after the header and `type` */
  fields: S;
}

function entry<S extends Shape>(when: string, fields: S, legacy?: true): Entry<S> {
  return legacy ? { when, fields, legacy } : { when, fields };
}

/** Where a message's sender came from */
export const SOURCE_ORIGINS = ["dialect", "header", "key", "unknown"] as const;
/**
 * How the observer found the task a reply answers when the record did not name its message: by
 * the task id among the tasks open on the replying agent, or by the conversation
 */
export const CORRELATIONS = ["task", "conversation"] as const;

const stuckHandoff = {
  ...handoffFields,
  reason: literal(...STUCK_REASONS),
  age_ms: num,
  limit_ms: num,
};

/** Every diff record type: its fields and when it is written */
export const DIFF_RECORDS = {
  observer_started: entry("the observer (re)started; how it resumed", {
    pid: nat,
    resumed_partitions: nat,
    torn_bytes_cut: nat,
    positions: array(position),
    /** The options it folds with from now on (absent in records of older observers) */
    fold_options: optional(object(foldOptionsShape)),
    /** The dialects it reads records with (absent in records of older observers: ours only) */
    dialects: optional(array(str)),
  }),
  segment_started: entry("first line of every diff segment: the observer's position everywhere", {
    segment: nat,
    positions: array(position),
  }),
  message: entry("every valid envelope seen, with its Kafka coordinates", {
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
    error: optional(envelopeError),
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
    /**
     * The dialects that read it, outermost first (`mat`, `cloudevents-binary/a2a-v1`,
     * `mapping:<name>`...); absent in records of observers that read only our envelope
     */
    dialect: optional(str),
    /** Where `source` came from: the dialect, a header, the record key, or nowhere (`unknown`) */
    source_from: optional(literal(...SOURCE_ORIGINS)),
    /** A progress message of a task that waits on a person (A2A input/auth required) */
    waiting_on: optional(literal(...WAITING_ON)),
    /** The task a reply answers, found by the observer: the record named no task message */
    correlated_by: optional(literal(...CORRELATIONS)),
    /** The CloudEvents attributes of the event that carried it */
    cloudevent: optional(object({
      type: str,
      source: str,
      id: str,
      subject: optional(str),
      time: optional(isoTime),
    })),
  }),
  message_malformed: entry("a record that is not JSON or not a valid envelope, with the reason", {
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
  }),
  message_duplicated: entry("a `message_id` seen a second time (delivered twice)", {
    ...coordinates,
    message_id: str,
    first_seq: nat,
  }),
  handoff_started: entry(
    "a `TASK` (older histories; now the TASK's `message` has `handoff`)",
    {
      ...handoffFields,
      created_at: isoTime,
      deadline: optional(isoTime),
      message_seq: nat,
    },
    true,
  ),
  handoff_retried: entry("a `TASK` with `attempt` > 1 for a task already seen", {
    ...handoffFields,
    previous_message_id: str,
    message_seq: nat,
    /** The retried TASK's own times (absent in records of older observers) */
    created_at: optional(isoTime),
    deadline: optional(isoTime),
  }),
  handoff_completed: entry("the `RESULT` answering a seen `TASK`, with its latency", {
    ...handoffFields,
    reply_message_id: str,
    latency_ms: num,
    message_seq: nat,
  }),
  handoff_failed: entry("the `ERROR` answering a seen `TASK`", {
    ...handoffFields,
    reply_message_id: str,
    latency_ms: num,
    error_kind: str,
    error_message: str,
    retryable: bool,
    message_seq: nat,
    /** When the task was made (its sender's time), and the deadline it carried */
    task_created_at: optional(isoTime),
    deadline: optional(isoTime),
  }),
  handoff_stuck: entry(
    "no answer by the deadline, or long past what is normal for the agent",
    stuckHandoff,
  ),
  /** Many handoffs found stuck at one check, in one line (at most STUCK_BATCH of them) */
  handoffs_stuck: entry("many handoffs stuck at one check (a flood): up to 500 per record", {
    handoffs: array(object(stuckHandoff)),
  }),
  /**
   * A reply observed before its TASK (topics are not read in one global order). It is held until
   * `hold_until`: the TASK arriving meanwhile completes the handoff, else `reply_orphaned` follows.
   */
  reply_held: entry(
    "a `RESULT`/`ERROR` seen before its `TASK`, held ORPHAN_GRACE_MS",
    heldReplyShape,
  ),
  reply_orphaned: entry("a `RESULT`/`ERROR` whose `TASK` was never seen (after the hold)", {
    message_id: str,
    in_reply_to: str,
    msg_type: str,
    source: str,
    target: str,
    conversation_id: str,
    task_id: str,
    message_seq: nat,
  }),
  task_unconsumed: entry(
    "(older histories; now the TASK's `message` has `unconsumed: true`)",
    {
      topic: str,
      agent: str,
      group: str,
      task_message_id: str,
      message_seq: nat,
    },
    true,
  ),
  handoff_loop: entry("tasks bouncing between two agents in one conversation", {
    conversation_id: str,
    agents: array(str),
    tasks: nat,
    message_seq: nat,
  }),
  queue_sample: entry("one poll of an agent's queue and one group reading it (lag, members...)", {
    agent: str,
    topic: str,
    /** The group sampled; "" when no group reads the topic (`group_source` "none") */
    group: str,
    group_state: str,
    members: array(object({ member_id: str, client_id: str, host: str })),
    partitions: array(
      object({ partition: nat, high: kafkaOffset, committed: nullable(kafkaOffset), lag: nat }),
    ),
    lag: nat,
    status: literal(...QUEUE_STATUSES),
    status_reason: str,
    /**
     * Where the observer learnt that the group reads the topic (`GROUP_SOURCES`); absent in
     * records of older observers, whose group was the naming convention's
     */
    group_source: optional(literal(...GROUP_SOURCES)),
    /**
     * Every group read for the topic at this poll, this one among them ([] when none reads it):
     * a series of samples of a group not listed here has ended. Absent in older records
     */
    topic_groups: optional(array(str)),
  }),
  queue_status_changed: entry("the Burrow-style status of a group on a queue changed", {
    agent: str,
    group: str,
    from: nullable(literal(...QUEUE_STATUSES)),
    to: literal(...QUEUE_STATUSES),
    reason: str,
    /** As in the group's `queue_sample` (absent in records of older observers) */
    group_source: optional(literal(...GROUP_SOURCES)),
  }),
  error: entry("a structured error occurrence, folded by fingerprint (with count)", {
    ...errorFoldShape,
    /** Occurrences this line stands for (absent: 1) */
    occurrences: optional(nat),
    /**
     * The conversations of the occurrences a coalesced line stands for (at most 100), beside
     * `conversation_id`, the last one's (absent: only that one)
     */
    conversation_ids: optional(array(str)),
  }),
  topic_reset: entry("a partition's offsets went back (topic deleted and recreated)", {
    topic: str,
    partition: nat,
    previous_offset: kafkaOffset,
    reason: str,
  }),
  runtime_event: entry("a pod or process change (runtime source), with the tasks it held", {
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
    /**
     * On a death: false when `tasks_in_flight` was found without the whole Kafka side up to `at`
     * (the queues not read that far within the hold, or the closures it needed forgotten), so a
     * task it held may be missing. Absent: read up to `at` (or an older observer, which never waited)
     */
    tasks_in_flight_complete: optional(bool),
  }),
  /** Retention deleted a closed segment of a history (OBSERVER_RETAIN_BYTES) */
  /** kafkajs gave up on the observer's consumer (it does not restart it): created again */
  consumer_restarted: entry("the observer's consumer crashed for good and was created again", {
    error: str,
    /** Crashes since the observer started */
    crashes: nat,
  }),
  segment_deleted: entry("retention deleted the oldest segment of a history (bytes, last seq)", {
    history: literal("diff", "state"),
    file: str,
    bytes: nat,
    /** The last seq the deleted segment held, when it could be read */
    last_seq: nullable(nat),
    retain_bytes: nat,
  }),
};

type Table = typeof DIFF_RECORDS;
export type DiffRecordType = keyof Table;

/** Every diff record type, in the table's order */
export const DIFF_RECORD_TYPES = Object.keys(DIFF_RECORDS) as DiffRecordType[];

/** The whole shape of one record type: the header, its `type`, its fields */
export type DiffRecordShape<K extends DiffRecordType> =
  & typeof header
  & { type: Check<K> }
  & Table[K]["fields"];

export function diffRecordShape<K extends DiffRecordType>(type: K): DiffRecordShape<K> {
  return { ...header, type: literal(type), ...DIFF_RECORDS[type].fields };
}

/** The record of one type */
export type RecordOf<K extends DiffRecordType> = InferShape<DiffRecordShape<K>>;
/** Infer, once a generic shape is known to be one */
type InferShape<S> = S extends Shape ? Infer<S> : never;
/** Any diff record: the union of every type of the table */
export type DiffRecord = { [K in DiffRecordType]: RecordOf<K> }[DiffRecordType];

export type ObserverStartedRecord = RecordOf<"observer_started">;
export type MessageRecord = RecordOf<"message">;
export type MessageMalformedRecord = RecordOf<"message_malformed">;
export type HandoffStartedRecord = RecordOf<"handoff_started">;
export type HandoffRetriedRecord = RecordOf<"handoff_retried">;
export type HandoffCompletedRecord = RecordOf<"handoff_completed">;
export type HandoffFailedRecord = RecordOf<"handoff_failed">;
export type HandoffStuckRecord = RecordOf<"handoff_stuck">;
export type HandoffsStuckRecord = RecordOf<"handoffs_stuck">;
export type HandoffLoopRecord = RecordOf<"handoff_loop">;
export type QueueSampleRecord = RecordOf<"queue_sample">;
export type ErrorRecord = RecordOf<"error">;
export type RuntimeEventRecord = RecordOf<"runtime_event">;
export type ConsumerRestartedRecord = RecordOf<"consumer_restarted">;
