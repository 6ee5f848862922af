/**
 * The lifecycle record the supervisor keeps of each agent process, the way a kubelet reports pod
 * states: `processes.jsonl` (one line per change) beside `processes.json` (the current state).
 */

import { isRecord } from "./is_record.ts";

export const PROCESS_RECORD_SCHEMA_VERSION = 1;

export type ProcessEventKind = "started" | "exited" | "stopped";

export interface ProcessEvent {
  schema_version: number;
  ts: string;
  event: ProcessEventKind;
  agent: string;
  /**
   * Which of the agent's processes (0-based) when the supervisor runs several of it: a replica
   * keeps its number across restarts, its pid does not. Absent in records of older supervisors
   */
  replica?: number;
  pid: number;
  started_at: string;
  restart_count: number;
  exit_code?: number;
  signal?: string;
  /** On `exited`: milliseconds until the supervisor starts it again */
  restart_in_ms?: number;
}

export interface ProcessState {
  agent: string;
  /** As in `ProcessEvent` */
  replica: number;
  pid: number;
  status: "running" | "restarting" | "stopped";
  started_at: string;
  restart_count: number;
  last_exit?: { ts: string; exit_code: number; signal?: string };
}

/** Narrows one line of `processes.jsonl`; undefined when it is not a process event */
export function parseProcessEvent(value: unknown): ProcessEvent | undefined {
  if (!isRecord(value)) return undefined;
  const { schema_version, ts, event, agent, pid, started_at, restart_count } = value;
  if (
    typeof schema_version !== "number" || typeof ts !== "string" || typeof agent !== "string" ||
    typeof pid !== "number" || typeof started_at !== "string" ||
    typeof restart_count !== "number" ||
    (event !== "started" && event !== "exited" && event !== "stopped")
  ) return undefined;
  const out: ProcessEvent = { schema_version, ts, event, agent, pid, started_at, restart_count };
  const replica = value["replica"];
  if (typeof replica === "number" && Number.isSafeInteger(replica) && replica >= 0) {
    out.replica = replica;
  }
  if (typeof value["exit_code"] === "number") out.exit_code = value["exit_code"];
  if (typeof value["signal"] === "string") out.signal = value["signal"];
  if (typeof value["restart_in_ms"] === "number") out.restart_in_ms = value["restart_in_ms"];
  return out;
}
