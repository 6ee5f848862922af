/**
 * The local process source: tails the supervisor's `$AGENTS_STATE_DIR/processes.jsonl` and turns
 * its lifecycle lines into runtime events, the way the Kubernetes source turns pod changes.
 *
 * - It polls the file (every 250 ms), remembering the byte offset it has consumed: only complete
 *   lines count, so a torn last line is read once the supervisor finishes it. A file that does
 *   not exist yet is waited for; a file that shrank or was replaced is read again from its start.
 * - By default it starts at offset 0 so the history before the observer started is not missed;
 *   `fromOffset` (and `offset` to save) lets a restarted observer resume where it was.
 * - started -> `started` (process "pid:<n>"), preceded by `restarted` when restart_count > 0;
 *   exited -> `exited`, plus `crash_loop` when the supervisor backs off >= 4 s or the process
 *   exited 3+ times within 60 s (by the records' own timestamps); stopped -> `exited` (reason
 *   "stopped").
 * - Where the supervisor runs several replicas of an agent (`replica` in its records), each is its
 *   own process: its exits are counted, and its restart explained, apart from the other replicas'
 *   (three replicas dying once each are three restarts, not a crash loop).
 * - Every few seconds it samples each running pid's RSS (`/proc/<pid>/status` VmRSS) and CPU
 *   (`/proc/<pid>/stat`) -> `resources`, skipping a pid that now belongs to another process.
 * - A bad line is skipped and logged; a read error is retried, reported once per outage as
 *   `source_error` and by `health()`.
 */

import { parseProcessEvent, type ProcessEvent } from "@mat/agents/protocol";
import type { RuntimeEvent } from "./process_event.ts";
import type { LogFn, ProcessSource } from "./process_source.ts";
import { CLOCK_TICKS_PER_SECOND, procStat, readIfPresent, vmRssBytes } from "./proc_files.ts";
import { errorText } from "@mat/agents/support";
import { fileChunks, splitLines } from "@mat/agents/lines";

export interface LocalSourceOptions {
  /** The supervisor's state directory (AGENTS_STATE_DIR, default ./.agents) */
  stateDir: string;
  /** Byte offset of processes.jsonl to start from; default 0 (the whole history) */
  fromOffset?: number;
  /** How often the file is polled; default 250 ms */
  pollMs?: number;
  /** How often running processes are sampled; 0 turns it off; default 5 s */
  resourcesIntervalMs?: number;
  /** An exit whose restart delay is at least this is a crash loop; default 4000 ms */
  crashLoopDelayMs?: number;
  /**
   * This many exits of one process (one replica of an agent) within `crashLoopWindowMs` is a crash
   * loop; default 3, 60 s
   */
  crashLoopExits?: number;
  crashLoopWindowMs?: number;
  log?: LogFn;
}

interface Running {
  agent: string;
  pid: number;
  startedAt: number;
  /** CPU ticks and wall time of the last sample, for the next one's rate */
  lastCpu?: { ticks: number; at: number };
}

interface LastExit {
  exit_code?: number;
  signal?: string;
  reason: string;
}

/** A pid whose process started this far from the record's started_at is another process */
const PID_REUSE_TOLERANCE_MS = 10_000;

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

export class LocalSource implements ProcessSource {
  readonly source = "local";
  readonly path: string;
  readonly #o: LocalSourceOptions;
  readonly #log: LogFn;
  #emit: (e: RuntimeEvent) => void = () => {};
  #offset: number;
  #inode: number | null = null;
  #started = false;
  #stopped = false;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #busy: Promise<void> = Promise.resolve();
  #error: string | undefined;
  /** Running processes by pid */
  readonly #running = new Map<number, Running>();
  /** Exit times (ms, from the records) per agent replica, within the crash-loop window */
  readonly #exits = new Map<string, number[]>();
  readonly #lastExit = new Map<string, LastExit>();
  #bootTimeMs: number | undefined;
  #polls = 0;
  linesSkipped = 0;

  constructor(options: LocalSourceOptions) {
    this.#o = options;
    this.path = `${options.stateDir.replace(/\/+$/, "")}/processes.jsonl`;
    this.#offset = options.fromOffset ?? 0;
    this.#log = options.log ?? (() => {});
  }

  /** Bytes of processes.jsonl consumed so far: a resume point for `fromOffset` */
  get offset(): number {
    return this.#offset;
  }

  /** Polls of processes.jsonl ended so far, read or failed: the first one ends within `start` */
  get polls(): number {
    return this.#polls;
  }

  health(): { ok: boolean; reason?: string } {
    if (!this.#started) return { ok: false, reason: "Not started" };
    if (this.#error !== undefined) return { ok: false, reason: this.#error };
    return { ok: true };
  }

  async start(emit: (e: RuntimeEvent) => void): Promise<void> {
    if (this.#started) throw new Error(`Local source for ${quote(this.path)} is already started`);
    this.#started = true;
    this.#emit = emit;
    await this.#poll();
    this.#schedule(this.#o.pollMs ?? 250, () => this.#poll());
    const sampleMs = this.#o.resourcesIntervalMs ?? 5_000;
    if (sampleMs > 0) this.#schedule(sampleMs, () => this.#sample());
    this.#log("info", "local source started", { path: this.path, offset: this.#offset });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#busy;
  }

  /** Runs `task` every `ms` after the previous run ended, one task of the source at a time */
  #schedule(ms: number, task: () => Promise<void>): void {
    const arm = () => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (this.#stopped) return;
        this.#busy = this.#busy.then(task).catch((error) => {
          this.#log("error", "local source task failed", { error: errorText(error) });
        }).finally(() => {
          if (!this.#stopped) arm();
        });
      }, ms);
      this.#timers.add(timer);
    };
    arm();
  }

  async #poll(): Promise<void> {
    try {
      await this.#readNew();
      if (this.#error !== undefined) {
        this.#log("info", "local source reads processes.jsonl again", { path: this.path });
        this.#error = undefined;
      }
    } catch (error) {
      const reason = `Cannot read ${quote(this.path)}: ${errorText(error)}`;
      if (this.#error === undefined) {
        this.#log("warn", "local source cannot read processes.jsonl", { reason });
        this.#emit({
          source: "local",
          kind: "source_error",
          agent: null,
          process: "",
          at: new Date().toISOString(),
          reason: "ReadFailed",
          message: reason,
        });
      }
      this.#error = reason;
    } finally {
      this.#polls++;
    }
  }

  async #readNew(): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return; // the supervisor has not started yet
      throw error;
    }
    try {
      const info = await file.stat();
      if (this.#inode !== null && info.ino !== null && info.ino !== this.#inode) {
        this.#log("warn", "processes.jsonl was replaced; reading it from the start", {
          path: this.path,
        });
        this.#offset = 0;
      } else if (info.size < this.#offset) {
        this.#log("warn", "processes.jsonl shrank; reading it from the start", {
          path: this.path,
          size: info.size,
          offset: this.#offset,
        });
        this.#offset = 0;
      }
      this.#inode = info.ino;
      if (info.size === this.#offset) return;
      const from = this.#offset;
      const chunks = fileChunks(file, { from, to: info.size });
      // A last line still being written is torn: it is read again, whole, next poll.
      for await (const batch of splitLines(chunks, { offset: from, unterminated: "torn" })) {
        if (batch.kind !== "lines") continue;
        for (let i = 0; i < batch.count; i++) {
          this.#offset = batch.offset + (batch.ends[i] ?? 0) + 1;
          this.#consume(batch.line(i));
        }
      }
    } finally {
      file.close();
    }
  }

  #consume(line: string): void {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.#skip(`Line is not JSON: ${quote(line)}`);
      return;
    }
    const event = parseProcessEvent(value);
    if (event === undefined) {
      this.#skip(`Line is not a process event: ${quote(line)}`);
      return;
    }
    try {
      this.#apply(event);
    } catch (error) {
      this.#skip(`Process event ${quote(line)} failed: ${errorText(error)}`);
    }
  }

  #skip(error: string): void {
    this.linesSkipped++;
    this.#log("warn", "local source skipped a line of processes.jsonl", { error });
  }

  #apply(e: ProcessEvent): void {
    // A replica restarts as itself: a pid does not outlive a restart, its replica number does
    const slot = e.replica === undefined ? e.agent : `${e.agent}#${e.replica}`;
    const who = e.replica === undefined ? e.agent : `${e.agent} (replica ${e.replica})`;
    const base = {
      source: "local" as const,
      agent: e.agent,
      process: `pid:${e.pid}`,
      at: e.ts,
      restart_count: e.restart_count,
    };
    if (e.event === "started") {
      const last = this.#lastExit.get(slot);
      if (e.restart_count > 0) {
        this.#emit({
          ...base,
          kind: "restarted",
          reason: last?.reason ?? "Restarted",
          ...(last?.exit_code !== undefined ? { exit_code: last.exit_code } : {}),
          ...(last?.signal !== undefined ? { signal: last.signal } : {}),
          message: `${who} started again as pid ${e.pid} (restart ${e.restart_count})`,
        });
      }
      this.#running.set(e.pid, {
        agent: e.agent,
        pid: e.pid,
        startedAt: Date.parse(e.started_at),
      });
      this.#emit({ ...base, kind: "started", message: `${who} started as pid ${e.pid}` });
      return;
    }

    this.#running.delete(e.pid);
    const stopped = e.event === "stopped";
    const reason = stopped
      ? "stopped"
      : e.signal !== undefined
      ? "Signaled"
      : e.exit_code === 0
      ? "Completed"
      : "Error";
    const exit: LastExit = { reason };
    if (e.exit_code !== undefined) exit.exit_code = e.exit_code;
    if (e.signal !== undefined) exit.signal = e.signal;
    this.#lastExit.set(slot, exit);
    const how = e.signal !== undefined ? `by ${e.signal}` : `with exit code ${e.exit_code ?? "?"}`;
    this.#emit({
      ...base,
      kind: "exited",
      ...exit,
      message: stopped
        ? `${who} (pid ${e.pid}) stopped ${how}`
        : `${who} (pid ${e.pid}) exited ${how}; restarting in ${e.restart_in_ms ?? "?"} ms`,
    });
    if (stopped) return;

    const at = Date.parse(e.ts);
    const window = this.#o.crashLoopWindowMs ?? 60_000;
    const exits = (this.#exits.get(slot) ?? []).filter((t) => at - t < window);
    exits.push(at);
    this.#exits.set(slot, exits);
    const delay = e.restart_in_ms ?? 0;
    const manyExits = exits.length >= (this.#o.crashLoopExits ?? 3);
    if (delay >= (this.#o.crashLoopDelayMs ?? 4_000) || manyExits) {
      this.#emit({
        ...base,
        kind: "crash_loop",
        reason: "CrashLoopBackOff",
        ...exit.exit_code !== undefined ? { exit_code: exit.exit_code } : {},
        ...exit.signal !== undefined ? { signal: exit.signal } : {},
        message: `${who} exited ${exits.length} time(s) within ${window / 1000} s; ` +
          `back-off ${delay} ms`,
      });
    }
  }

  async #bootTime(): Promise<number | undefined> {
    if (this.#bootTimeMs !== undefined) return this.#bootTimeMs;
    const stat = await readIfPresent("/proc/stat");
    const match = stat === undefined ? null : /^btime\s+(\d+)$/m.exec(stat);
    if (match?.[1] !== undefined) this.#bootTimeMs = Number(match[1]) * 1000;
    return this.#bootTimeMs;
  }

  async #sample(): Promise<void> {
    // no /proc/stat (not Linux): resources are sampled without start times
    const bootMs = await this.#bootTime().catch(() => undefined);
    for (const proc of [...this.#running.values()]) {
      try {
        const [status, statText] = await Promise.all([
          readIfPresent(`/proc/${proc.pid}/status`),
          readIfPresent(`/proc/${proc.pid}/stat`),
        ]);
        const stat = statText === undefined ? undefined : procStat(statText);
        if (status === undefined || stat === undefined) continue; // gone: its exit line will come
        if (bootMs !== undefined && Number.isFinite(proc.startedAt)) {
          const startedMs = bootMs + (stat.startTicks / CLOCK_TICKS_PER_SECOND) * 1000;
          if (Math.abs(startedMs - proc.startedAt) > PID_REUSE_TOLERANCE_MS) {
            this.#running.delete(proc.pid); // the pid now belongs to another process
            continue;
          }
        }
        const memory = vmRssBytes(status);
        const now = Date.now();
        let cpu: number | undefined;
        if (proc.lastCpu !== undefined && now > proc.lastCpu.at) {
          const seconds = (stat.cpuTicks - proc.lastCpu.ticks) / CLOCK_TICKS_PER_SECOND;
          cpu = Math.round((seconds / ((now - proc.lastCpu.at) / 1000)) * 1000);
        }
        proc.lastCpu = { ticks: stat.cpuTicks, at: now };
        if (memory === undefined && cpu === undefined) continue;
        this.#emit({
          source: "local",
          kind: "resources",
          agent: proc.agent,
          process: `pid:${proc.pid}`,
          at: new Date(now).toISOString(),
          ...(memory !== undefined ? { memory_bytes: memory } : {}),
          ...(cpu !== undefined ? { cpu_millicores: cpu } : {}),
        });
      } catch (error) {
        this.#log("warn", "local source cannot sample a process", {
          pid: proc.pid,
          error: errorText(error),
        });
      }
    }
  }
}
