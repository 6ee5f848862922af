/**
 * The state history's one record type: a `snapshot` of the observer's whole state, with the
 * `diff_seq` of the last diff record it reflects.
 */

import { WAITING_ON } from "@mat/agents/protocol";
import { foldOptionsShape } from "./fold_options.ts";
import {
  errorFoldShape,
  GROUP_SOURCES,
  handoffFields,
  header,
  heldReplyShape,
  position,
  processShape,
  QUEUE_STATUSES,
} from "./record_fields.ts";
import {
  array,
  bool,
  dict,
  type Infer,
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

const openHandoffShape = {
  ...handoffFields,
  created_at: isoTime,
  deadline: optional(isoTime),
  observed_at: isoTime,
  started_seq: nat,
  stuck: bool,
  /** The task waits on a person (its agent said input or auth is required): never stuck */
  waiting_on: optional(literal(...WAITING_ON)),
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
    /** Where the group came from (its last sample's `group_source`; absent in older snapshots) */
    group_source: optional(literal(...GROUP_SOURCES)),
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

export const snapshotShape = {
  ...header,
  type: literal("snapshot"),
  /** Every diff record with `seq` <= this is reflected in the snapshot */
  diff_seq: nat,
  state: object(stateShape),
  /** The options the state was folded with (absent in snapshots of older observers) */
  fold_options: optional(object(foldOptionsShape)),
};
export type SnapshotRecord = Infer<typeof snapshotShape>;
