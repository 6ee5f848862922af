/**
 * Which hop of a trace failed the request. The request is the root of the task tree (a task none
 * of whose ancestors the trace holds: the user's, in a conversation), its last attempt the one
 * whose reply answered the user. From there the failure is followed back along the task chain:
 * 1. a task's sub-tasks are the tasks named under it (`<task>.<n>-<agent>`); where a dialect names
 *    none that way, the hops its agent sent after it started (the request is then the root sent
 *    by someone no hop went to);
 * 2. a sub-task counts by its last attempt: one that completed (a retry that worked) failed
 *    nothing;
 * 3. of the sub-tasks that did not complete, the one started last is the one its parent stopped
 *    at (a step runs after the ones before it succeeded); the chain goes on from it;
 * 4. the chain ends at a hop none of whose sub-tasks failed: that hop is blamed.
 * A request that completed blames nothing, whatever failed on the way.
 */

export interface TraceHop {
  task_id: string;
  from: string;
  to: string;
  attempt: number;
  started_at: string;
  started_seq: number;
  outcome: "completed" | "failed" | "stuck" | "open";
  latency_ms: number | null;
  error: string | null;
}

export interface Blame {
  /** The last attempt at the request, or undefined with no hop */
  request: TraceHop | undefined;
  /** The hop whose failure reached the requester; undefined when the request completed */
  blamed: TraceHop | undefined;
  /** The task ids from the request down to the blamed hop */
  chain: string[];
}

/** The last attempt at each task, in the order the tasks first started */
function lastAttempts(hops: readonly TraceHop[]): TraceHop[] {
  const last = new Map<string, TraceHop>();
  for (const h of hops) {
    const seen = last.get(h.task_id);
    if (
      seen === undefined || h.attempt > seen.attempt ||
      (h.attempt === seen.attempt && h.started_seq > seen.started_seq)
    ) last.set(h.task_id, h);
  }
  return [...last.values()];
}

/** The nearest ancestor task of `id` among `ids` (by the `<task>.<n>-<agent>` naming) */
function parentOf(id: string, ids: ReadonlySet<string>): string | undefined {
  for (let i = id.lastIndexOf("."); i > 0; i = id.lastIndexOf(".", i - 1)) {
    const prefix = id.slice(0, i);
    if (ids.has(prefix)) return prefix;
  }
  return undefined;
}

/** The hop started last */
function latest(hops: readonly TraceHop[]): TraceHop | undefined {
  return hops.reduce<TraceHop | undefined>(
    (a, b) => (a === undefined || b.started_seq > a.started_seq ? b : a),
    undefined,
  );
}

/** The request of a trace's hops and the hop whose failure reached its requester (rules above) */
export function blame(hops: readonly TraceHop[]): Blame {
  const tasks = lastAttempts(hops);
  const ids = new Set(tasks.map((t) => t.task_id));
  const parent = new Map(tasks.map((t) => [t.task_id, parentOf(t.task_id, ids)]));
  // The requester sends and is sent nothing: a root from someone no hop went to
  const roots = tasks.filter((t) => parent.get(t.task_id) === undefined);
  const receivers = new Set(tasks.map((t) => t.to));
  const external = roots.filter((t) => !receivers.has(t.from));
  const request = latest(external.length > 0 ? external : roots);
  if (request === undefined || request.outcome === "completed") {
    return { request, blamed: undefined, chain: [] };
  }
  const named = (h: TraceHop) => tasks.filter((t) => parent.get(t.task_id) === h.task_id);
  const sentAfter = (h: TraceHop) =>
    tasks.filter((t) => t !== h && t.from === h.to && t.started_seq > h.started_seq);
  let blamed = request;
  const chain = [request.task_id];
  const visited = new Set(chain);
  for (;;) {
    const subTasks = named(blamed).length > 0 ? named(blamed) : sentAfter(blamed);
    const failed = subTasks.filter((t) => t.outcome !== "completed" && !visited.has(t.task_id));
    const next = latest(failed);
    if (next === undefined) break;
    blamed = next;
    chain.push(next.task_id);
    visited.add(next.task_id);
  }
  return { request, blamed, chain };
}
