/**
 * What the observer knows of the agents' pods and processes, folded from `runtime_event`
 * records: status, readiness, restarts, the last termination (reason such as `OOMKilled`, exit
 * code, signal) and the tasks that were in flight when it died. Part of the observer's state.
 *
 * Status rules: `started`/`ready` -> running; `restarted` -> running again (restart_count and
 * last_termination updated); `exited` -> exited; `crash_loop` -> crash_loop; `unschedulable`,
 * `image_pull_backoff`, `evicted`, `deleted` -> that status; `created`/`scheduled` -> pending.
 */

import type { ProcessData, RuntimeEventRecord } from "./record_format.ts";

/** Processes kept, and lost tasks kept per process */
export const PROCESS_LIMITS = { processes: 500, lostTasks: 20 };

const DEATHS = new Set(["exited", "restarted", "evicted", "deleted"]);

/** Whether a runtime event kind ends a process's work (its in-flight tasks may be lost) */
export function isDeath(kind: string): boolean {
  return DEATHS.has(kind);
}

export class ProcessState {
  readonly processes = new Map<string, ProcessData>();

  constructor(data?: ProcessData[]) {
    for (const p of data ?? []) this.processes.set(p.process, p);
  }

  apply(r: RuntimeEventRecord): void {
    if (r.process === "" || r.kind === "source_error" || r.kind === "resynced") return;
    let p = this.processes.get(r.process);
    if (p === undefined) {
      p = {
        agent: r.agent,
        process: r.process,
        source: r.source,
        status: "pending",
        ready: null,
        restart_count: 0,
        started_at: null,
        last_event_at: r.at,
        last_termination: null,
        lost_tasks: [],
        memory_bytes: null,
      };
      this.processes.set(r.process, p);
      while (this.processes.size > PROCESS_LIMITS.processes) {
        const oldest = this.processes.keys().next();
        if (oldest.done) break;
        this.processes.delete(oldest.value);
      }
    }
    p.last_event_at = r.at;
    if (r.agent !== null) p.agent = r.agent;
    if (r.restart_count !== undefined) p.restart_count = Math.max(p.restart_count, r.restart_count);
    if (r.memory_bytes !== undefined) p.memory_bytes = r.memory_bytes;
    const termination = () => ({
      at: r.at,
      reason: r.reason ?? null,
      exit_code: r.exit_code ?? null,
      signal: r.signal ?? null,
    });
    switch (r.kind) {
      case "created":
      case "scheduled":
        if (p.status !== "running") p.status = "pending";
        break;
      case "started":
        p.status = "running";
        p.started_at = r.at;
        break;
      case "ready":
        p.status = "running";
        p.ready = true;
        break;
      case "not_ready":
        p.ready = false;
        break;
      case "restarted":
        p.status = "running";
        p.last_termination = termination();
        break;
      case "exited":
        p.status = "exited";
        p.ready = false;
        p.last_termination = termination();
        break;
      case "crash_loop":
      case "unschedulable":
      case "image_pull_backoff":
      case "evicted":
      case "deleted":
        p.status = r.kind;
        if (r.kind !== "unschedulable") p.ready = false;
        break;
      case "warning_event":
      case "resources":
        break;
    }
    if (isDeath(r.kind) && r.tasks_in_flight.length > 0) {
      p.lost_tasks = [
        ...r.tasks_in_flight.map((t) => ({ ...t, at: r.at })),
        ...p.lost_tasks,
      ].slice(0, PROCESS_LIMITS.lostTasks);
    }
  }

  toData(): ProcessData[] {
    return [...this.processes.values()].map((p) => ({
      ...p,
      lost_tasks: p.lost_tasks.map((t) => ({ ...t })),
      ...(p.last_termination ? { last_termination: { ...p.last_termination } } : {}),
    }));
  }
}
