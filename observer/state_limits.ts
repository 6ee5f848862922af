/**
 * The memory bounds of the observer's state: past them the oldest entries are dropped first, and
 * what was dropped is counted in the state (`dropped`).
 */

export const LIMITS = {
  /** Replies held for their TASK at once; beyond it a reply is orphaned at once */
  heldReplies: 10_000,
  openHandoffs: 20_000,
  recentMessageIds: 4_096,
  /** Closed tasks remembered (a second reply to one is no orphan), and closures a death may need */
  recentClosedTasks: 4_096,
  conversations: 2_000,
  errors: 1_000,
  latencies: 100,
  /** Agents (and agent x model usage rows) counted; a name past it is counted as dropped */
  agents: 1_000,
};
