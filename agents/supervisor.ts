/**
 * Runs agents as separate OS processes and restarts one that dies, like a pod's restart policy
 * `Always` with CrashLoopBackOff's doubling delay, keeping a lifecycle record of every process.
 * An agent may run as several replicas (`replicas`), each its own process in the agent's consumer
 * group, with its own restart delay and its own `AGENTS_STATE_DIR` (replica 0 keeps `stateDir`,
 * replica i > 0 gets `stateDir/replica-<i>`: the done and pending stores are a process's own).
 */

import type { ProcessEvent, ProcessState } from "./process_record.ts";
import { PROCESS_RECORD_SCHEMA_VERSION } from "./process_record.ts";
import { textLines } from "./line_splitter.ts";
import { ONE_REPLICA, type ReplicaCounts, replicasOf } from "./replicas.ts";

export interface SupervisorOptions {
  agents: string[];
  /** Script that runs one agent given its name (a Deno script, run with --allow-all) */
  agentScript: string;
  /**
   * The command line that runs one agent, for agents that are not Deno scripts (a Python or Node
   * agent of another stack); `agentScript` is then unused
   */
  agentCommand?: (agent: string) => string[];
  stateDir: string;
  /** Processes of each agent (default one) */
  replicas?: ReplicaCounts;
  env?: Record<string, string>;
  /** First restart delay; doubles per quick failure up to `maxBackoffMs` */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A process that ran this long resets the delay */
  healthyAfterMs?: number;
  stopGraceMs?: number;
  /** Receives every line the agents print */
  output?: (line: string) => void;
}

interface Slot {
  agent: string;
  replica: number;
  child: Deno.ChildProcess | undefined;
  state: ProcessState;
  delayMs: number;
}

const encoder = new TextEncoder();

async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  out: (line: string) => void,
): Promise<void> {
  for await (const line of textLines(stream)) out(line);
}

export class Supervisor {
  readonly #slots: Slot[];
  readonly #opts:
    & Required<Omit<SupervisorOptions, "env" | "agentCommand" | "replicas">>
    & Pick<SupervisorOptions, "agentCommand">
    & { env: Record<string, string> };
  readonly #loops: Promise<void>[] = [];
  #stopping = false;
  #log: Deno.FsFile | undefined;
  #wakeups = new Set<() => void>();

  constructor(options: SupervisorOptions) {
    this.#opts = {
      backoffMs: 500,
      maxBackoffMs: 10_000,
      healthyAfterMs: 10_000,
      stopGraceMs: 15_000,
      env: {},
      output: (line) => Deno.stdout.writeSync(encoder.encode(line + "\n")),
      ...options,
    };
    const replicas = options.replicas ?? ONE_REPLICA;
    this.#slots = options.agents.flatMap((agent) =>
      Array.from({ length: replicasOf(replicas, agent) }, (_, replica) => ({ agent, replica }))
    ).map(({ agent, replica }) => ({
      agent,
      replica,
      child: undefined,
      delayMs: this.#opts.backoffMs,
      state: {
        agent,
        replica,
        pid: 0,
        status: "stopped",
        started_at: new Date(0).toISOString(),
        restart_count: 0,
      },
    }));
  }

  get states(): ProcessState[] {
    return this.#slots.map((s) => ({ ...s.state }));
  }

  async start(): Promise<void> {
    await Deno.mkdir(this.#opts.stateDir, { recursive: true });
    this.#log = await Deno.open(`${this.#opts.stateDir}/processes.jsonl`, {
      append: true,
      create: true,
    });
    for (const slot of this.#slots) this.#loops.push(this.#run(slot));
  }

  #recording: Promise<void> = Promise.resolve();

  /** Appends a lifecycle event and rewrites the snapshot; calls are serialised */
  #record(event: Omit<ProcessEvent, "schema_version" | "ts">): Promise<void> {
    this.#recording = this.#recording.then(() => this.#write(event)).catch((err) => {
      this.#opts.output(JSON.stringify({
        level: "error",
        component: "supervisor",
        msg: "cannot write the process record",
        error: String(err),
      }));
    });
    return this.#recording;
  }

  async #write(event: Omit<ProcessEvent, "schema_version" | "ts">): Promise<void> {
    const line: ProcessEvent = {
      schema_version: PROCESS_RECORD_SCHEMA_VERSION,
      ts: new Date().toISOString(),
      ...event,
    };
    await this.#log?.write(encoder.encode(JSON.stringify(line) + "\n"));
    const snapshot = JSON.stringify({ ts: line.ts, processes: this.states }, null, 2);
    const path = `${this.#opts.stateDir}/processes.json`;
    await Deno.writeTextFile(`${path}.tmp`, snapshot + "\n");
    await Deno.rename(`${path}.tmp`, path);
  }

  async #run(slot: Slot): Promise<void> {
    while (!this.#stopping) {
      const [program, ...args] = this.#opts.agentCommand?.(slot.agent) ??
        [Deno.execPath(), "run", "--allow-all", this.#opts.agentScript, slot.agent];
      if (program === undefined) throw new RangeError(`Empty command for agent "${slot.agent}"`);
      const command = new Deno.Command(program, {
        args,
        env: {
          ...this.#opts.env,
          AGENT_RESTART_COUNT: String(slot.state.restart_count),
          AGENT_REPLICA: String(slot.replica),
          ...(slot.replica > 0
            ? { AGENTS_STATE_DIR: `${this.#opts.stateDir}/replica-${slot.replica}` }
            : {}),
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      });
      const child = command.spawn();
      slot.child = child;
      const started = Date.now();
      slot.state = {
        ...slot.state,
        pid: child.pid,
        status: "running",
        started_at: new Date(started).toISOString(),
      };
      await this.#record({
        event: "started",
        agent: slot.agent,
        replica: slot.replica,
        pid: child.pid,
        started_at: slot.state.started_at,
        restart_count: slot.state.restart_count,
      });
      const forwarded = Promise.all([
        forwardLines(child.stdout, this.#opts.output),
        forwardLines(child.stderr, this.#opts.output),
      ]);
      const status = await child.status;
      // output that cannot be forwarded (our stdout closed) must not stop the exit being recorded
      await forwarded.catch(() => {});
      slot.child = undefined;
      const exit = {
        ts: new Date().toISOString(),
        exit_code: status.code,
        ...(status.signal ? { signal: status.signal } : {}),
      };
      if (this.#stopping) {
        slot.state = { ...slot.state, status: "stopped", last_exit: exit };
        await this.#record({
          event: "stopped",
          agent: slot.agent,
          replica: slot.replica,
          pid: child.pid,
          started_at: slot.state.started_at,
          restart_count: slot.state.restart_count,
          exit_code: status.code,
          ...(status.signal ? { signal: status.signal } : {}),
        });
        return;
      }
      slot.delayMs = Date.now() - started >= this.#opts.healthyAfterMs
        ? this.#opts.backoffMs
        : slot.delayMs;
      const delay = slot.delayMs;
      slot.delayMs = Math.min(this.#opts.maxBackoffMs, slot.delayMs * 2);
      slot.state = { ...slot.state, status: "restarting", last_exit: exit };
      await this.#record({
        event: "exited",
        agent: slot.agent,
        replica: slot.replica,
        pid: child.pid,
        started_at: slot.state.started_at,
        restart_count: slot.state.restart_count,
        exit_code: status.code,
        ...(status.signal ? { signal: status.signal } : {}),
        restart_in_ms: delay,
      });
      this.#opts.output(JSON.stringify({
        ts: exit.ts,
        level: "warn",
        component: "supervisor",
        msg: "agent exited; restarting",
        agent: slot.agent,
        replica: slot.replica,
        pid: child.pid,
        exit_code: status.code,
        signal: status.signal ?? null,
        restart_in_ms: delay,
      }));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wakeups.add(done);
      });
      slot.state = { ...slot.state, restart_count: slot.state.restart_count + 1 };
    }
  }

  /** Sends SIGTERM to every agent, then SIGKILL to any still running after the grace period */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const wake of this.#wakeups) wake();
    for (const slot of this.#slots) {
      try {
        slot.child?.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    const all = Promise.all(this.#loops);
    const timeout = new Promise<"timeout">((r) =>
      setTimeout(() => r("timeout"), this.#opts.stopGraceMs)
    );
    if (await Promise.race([all, timeout]) === "timeout") {
      for (const slot of this.#slots) {
        try {
          slot.child?.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      await all;
    }
    this.#log?.close();
  }
}
