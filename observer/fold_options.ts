/**
 * The options the observer folds its records with: which topics are agent queues, how many queue
 * samples a window keeps, when a handoff is stuck, how long a reply waits for its TASK.
 *
 * They are part of the history: the observer writes the ones it uses (`fold_options`) in its
 * `observer_started` record and in every snapshot, so a replay folds with them. Histories of older
 * observers lack them; a replay of those uses DEFAULT_FOLD_OPTIONS, the observer's defaults, and
 * says so.
 *
 * The groups declared to read a queue (OBSERVER_GROUPS) are not among them: no fold depends on
 * them, and each sample of a declared group records it (`group_source: "declared"`).
 */

import { DEFAULT_TOPIC_PREFIX, TopicPattern, USER_INBOX } from "@mat/agents/protocol";
import { type Infer, nat, optional, str } from "./record_shape.ts";

export interface FoldOptions {
  /** Prefix of the agent queues (KAFKA_TOPIC_PREFIX) */
  prefix: string;
  /**
   * Which topics are agent queues, the agent in its named group `agent` (KAFKA_TOPIC_PATTERN;
   * by default the prefix, then an agent name)
   */
  topicPattern: string;
  /**
   * The requester's name (OBSERVER_USER_INBOX): its inbox is no agent's queue, and a task it sends
   * is a user request
   */
  userInbox: string;
  /** Queue samples kept in each queue's window (OBSERVER_QUEUE_WINDOW) */
  windowSize: number;
  /** A handoff with no deadline is stuck after this long, or 5x the agent's p95 (STUCK_AFTER_MS) */
  stuckAfterMs: number;
  /** How long a reply seen before its TASK is held before `reply_orphaned` (ORPHAN_GRACE_MS) */
  orphanGraceMs: number;
}

/** The observer's defaults (its configuration's, with no variable set) */
export const DEFAULT_FOLD_OPTIONS: Readonly<FoldOptions> = {
  prefix: DEFAULT_TOPIC_PREFIX,
  topicPattern: TopicPattern.ofPrefix(DEFAULT_TOPIC_PREFIX).source,
  userInbox: USER_INBOX,
  windowSize: 5,
  stuckAfterMs: 60_000,
  orphanGraceMs: 5_000,
};

/** `fold_options` in a record: the same options, named like the variables that set them */
export const foldOptionsShape = {
  topic_prefix: str,
  /** Absent in records of observers before topic patterns: the prefix's pattern */
  topic_pattern: optional(str),
  /** Absent in records of observers before the option: `user` */
  user_inbox: optional(str),
  queue_window: nat,
  stuck_after_ms: nat,
  orphan_grace_ms: nat,
};
export type RecordedFoldOptions = Infer<typeof foldOptionsShape>;

/** The options as a record holds them */
export function recordFoldOptions(o: FoldOptions): RecordedFoldOptions {
  return {
    topic_prefix: o.prefix,
    topic_pattern: o.topicPattern,
    user_inbox: o.userInbox,
    queue_window: o.windowSize,
    stuck_after_ms: o.stuckAfterMs,
    orphan_grace_ms: o.orphanGraceMs,
  };
}

/** The options a record holds */
export function foldOptionsOf(r: RecordedFoldOptions): FoldOptions {
  return {
    prefix: r.topic_prefix,
    topicPattern: r.topic_pattern ?? TopicPattern.ofPrefix(r.topic_prefix).source,
    userInbox: r.user_inbox ?? USER_INBOX,
    windowSize: r.queue_window,
    stuckAfterMs: r.stuck_after_ms,
    orphanGraceMs: r.orphan_grace_ms,
  };
}

const patterns = new Map<string, TopicPattern>();

/** The topic pattern the options name (compiled once per pattern) */
export function topicPatternOf(o: Pick<FoldOptions, "topicPattern">): TopicPattern {
  let p = patterns.get(o.topicPattern);
  if (p === undefined) {
    p = new TopicPattern(o.topicPattern);
    patterns.set(o.topicPattern, p);
  }
  return p;
}
