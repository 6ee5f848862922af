/**
 * `agents`: each agent with its status (from its processes, else its consumer groups:
 * agent_status.ts), its task counts, latency percentiles and its pods or processes.
 */

import type { Invocation } from "./cli_args.ts";
import { agentStatus } from "./agent_status.ts";
import type { Answer } from "./output_bound.ts";
import { cut, head } from "./output_document.ts";
import type { TimeMachine } from "./time_machine.ts";

export async function runAgents(tm: TimeMachine, inv: Invocation): Promise<Answer> {
  const at = await tm.stateAt();
  const inbox = at.foldOptions.options.userInbox;
  const processes = at.state.processes ?? [];
  const agents = at.state.agents.filter((a) => a.agent !== inbox).map((
    { recent_latencies_ms, ...a },
  ) => {
    const sorted = [...recent_latencies_ms].sort((x, y) => x - y);
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return {
      ...a,
      ...agentStatus(a.agent, processes, at.state.queues),
      latency_ms_p50: sorted.length ? p(0.5) ?? null : null,
      latency_ms_p95: sorted.length ? p(0.95) ?? null : null,
      processes: processes.filter((proc) => proc.agent === a.agent).map((proc) => ({
        process: proc.process,
        source: proc.source,
        status: proc.status,
        ready: proc.ready,
        restart_count: proc.restart_count,
        started_at: proc.started_at,
        last_termination: proc.last_termination,
        tasks_lost: proc.lost_tasks.length,
        memory_bytes: proc.memory_bytes,
      })),
    };
  });
  return (limit) => {
    const { shown, omitted } = cut(agents, limit);
    return { ...head(inv, at.asOf), agents: shown, total: agents.length, omitted };
  };
}
