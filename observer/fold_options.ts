/**
 * The options the observer folds its records with: which topics are agent queues, how many queue
 * samples a window keeps, when a handoff is stuck, how long a reply waits for its TASK.
 */

/** Default ORPHAN_GRACE_MS: how long a reply waits for its TASK before it is orphaned */
export const DEFAULT_ORPHAN_GRACE_MS = 5_000;

export interface FoldOptions {
  /** Prefix of the agent queues (KAFKA_TOPIC_PREFIX) */
  prefix: string;
  /** Queue samples kept in each queue's window (OBSERVER_QUEUE_WINDOW) */
  windowSize: number;
  /** A handoff with no deadline is stuck after this long, or 5x the agent's p95 (STUCK_AFTER_MS) */
  stuckAfterMs: number;
  /** How long a reply seen before its TASK is held before `reply_orphaned` (ORPHAN_GRACE_MS) */
  orphanGraceMs?: number;
}
