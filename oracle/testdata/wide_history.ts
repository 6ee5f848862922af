/**
 * A wide history for the output bounds: many agents, each with a queue of many partitions, in the
 * observer's own record format, written to a real data directory with a snapshot of the state the
 * observer's `ObserverState` folds from it. Every list an answer can hold is long: agents, queues,
 * partitions, positions, usage rows, processes, error folds, open handoffs, the hops of one
 * conversation, the positions of an `observer_started` and the handoffs of a `handoffs_stuck`.
 */

import { DEFAULT_FOLD_OPTIONS, type DiffRecord } from "@mat/observer";
import {
  at,
  dataDir,
  errorRecord,
  jsonl,
  message,
  observerStarted,
  snapshot,
  stateAfter,
} from "./history.ts";

export interface WideShape {
  agents: number;
  partitions: number;
}

/** The conversation whose hops reach every agent's every partition */
export const WIDE_CONVERSATION = "conv-wide";

const name = (i: number) => `a${String(i).padStart(2, "0")}`;

/** The records of a wide history, oldest first, with seqs from 1 */
export function wideRecords(shape: WideShape): DiffRecord[] {
  const records: DiffRecord[] = [];
  let seq = 0;
  let s = 0;
  const add = <R extends DiffRecord>(make: (seq: number, s: number) => R): R => {
    const r = make(++seq, s++);
    records.push(r);
    return r;
  };
  const agents = Array.from({ length: shape.agents }, (_, i) => name(i));
  const partitions = Array.from({ length: shape.partitions }, (_, p) => p);
  add((q, t) => ({
    ...observerStarted(q, t, DEFAULT_FOLD_OPTIONS),
    positions: agents.flatMap((a) =>
      partitions.map((p) => ({ topic: `agent-queue-${a}`, partition: p, offset: "0" }))
    ),
  }));
  for (const [i, agent] of agents.entries()) {
    // Two processes an agent ran, the first of them killed
    for (const n of [0, 1]) {
      const process = `pid:${1000 + i * 10 + n}`;
      for (const kind of n === 0 ? ["started", "exited"] as const : ["started"] as const) {
        add((q, t) => ({
          schema_version: 1,
          seq: q,
          ts: at(t),
          type: "runtime_event",
          source: "local",
          kind,
          agent,
          process,
          at: at(t),
          ...(kind === "exited" ? { exit_code: 137, signal: "SIGKILL", reason: "killed" } : {}),
          tasks_in_flight: [],
        }));
      }
    }
  }
  // The user's request, never answered: its sub-tasks go to every agent's every partition
  const request = `${WIDE_CONVERSATION}.0-orchestrator`;
  add((q, t) =>
    message(q, t, {
      topic: "agent-queue-orchestrator",
      agent: "orchestrator",
      message_id: "request-wide",
      msg_type: "TASK",
      source: "user",
      target: "orchestrator",
      conversation_id: WIDE_CONVERSATION,
      task_id: request,
      handoff: "started",
    })
  );
  for (const agent of agents) {
    for (const p of partitions) {
      const task = add((q, t) =>
        message(q, t, {
          topic: `agent-queue-${agent}`,
          partition: p,
          offset: String(p + 1),
          agent,
          message_id: `task-${agent}-${p}`,
          msg_type: "TASK",
          source: "orchestrator",
          target: agent,
          conversation_id: WIDE_CONVERSATION,
          task_id: `${request}.${p + 1}-${agent}`,
          handoff: "started",
        })
      );
      // The last partition's task is never answered: it stays open
      if (p === shape.partitions - 1) continue;
      const reply = add((q, t) =>
        message(q, t, {
          topic: "agent-queue-orchestrator",
          partition: p,
          offset: String(q),
          agent: "orchestrator",
          message_id: `reply-${agent}-${p}`,
          msg_type: "RESULT",
          source: agent,
          target: "orchestrator",
          conversation_id: WIDE_CONVERSATION,
          task_id: task.task_id,
          in_reply_to: task.message_id,
          usage: {
            model: `model-${p % 2}`,
            input_tokens: 100,
            output_tokens: 50,
            cost_usd: 0.0001,
            latency_ms: 40,
          },
        })
      );
      add((q, t) => ({
        schema_version: 1,
        seq: q,
        ts: at(t),
        type: "handoff_completed",
        task_message_id: task.message_id,
        task_id: task.task_id,
        conversation_id: WIDE_CONVERSATION,
        from: "orchestrator",
        to: agent,
        attempt: 1,
        reply_message_id: reply.message_id,
        latency_ms: 40,
        message_seq: reply.seq,
      }));
    }
    add((q, t) =>
      errorRecord(q, t, agent, {
        fingerprint: `fp-${agent}`,
        evidence: {
          offsets: partitions.map((p) => ({
            topic: `agent-queue-${agent}`,
            partition: p,
            offset: "1",
          })),
          seqs: [q],
        },
      })
    );
    add((q, t) => ({
      schema_version: 1,
      seq: q,
      ts: at(t),
      type: "queue_sample",
      agent,
      topic: `agent-queue-${agent}`,
      group: `agent-${agent}`,
      group_state: "Stable",
      members: [{ member_id: "m0", client_id: `agent-${agent}`, host: "/127.0.0.1" }],
      partitions: partitions.map((p) => ({
        partition: p,
        high: String(p + 1),
        committed: String(p),
        lag: 1,
      })),
      lag: shape.partitions,
      status: "OK",
      status_reason: "lag is steady",
    }));
  }
  add((q, t) => ({
    schema_version: 1,
    seq: q,
    ts: at(t),
    type: "handoffs_stuck",
    handoffs: agents.map((agent) => ({
      task_message_id: `task-${agent}-${shape.partitions - 1}`,
      task_id: `${request}.${shape.partitions}-${agent}`,
      conversation_id: WIDE_CONVERSATION,
      from: "orchestrator",
      to: agent,
      attempt: 1,
      reason: "deadline_passed" as const,
      age_ms: 30_000,
      limit_ms: 20_000,
    })),
  }));
  return records;
}

/** A data directory holding a wide history and a snapshot of its state at its end */
export async function wideHistory(shape: WideShape): Promise<string> {
  const records = wideRecords(shape);
  const last = records.at(-1);
  const state = stateAfter(records);
  return await dataDir({
    diff: records.map(jsonl).join(""),
    state: jsonl(snapshot(1, (last?.seq ?? 0) + 1, last?.seq ?? 0, state)),
  });
}
