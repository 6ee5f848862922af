/**
 * One running foreign system for a scenario: its topics on the broker (unique to the run), the
 * real observer told how to read it the way a user would tell it (its `observerEnv`), our
 * supervisor running each of its agents as a process (so the observer's local source sees them
 * start, die and restart), its own client, and hands to break it from outside (signals to agent
 * pids). Every wait is on a condition, never a fixed sleep.
 */

import { KafkaBus } from "@mat/agents";
import { Supervisor } from "@mat/agents/supervisor";
import { DIFF_FILE_BASE } from "@mat/observer";
import { spawnObserver } from "@mat/observer/process";
import { activePath } from "@mat/observer/segments";
import { HistoryTail } from "../history_tail.ts";
import { until } from "../until.ts";
import { agentPid, freePort } from "../processes.ts";
import { settleHistory } from "../settle.ts";
import type { ForeignAnswer, ForeignSystem } from "./foreign_system.ts";

export interface ForeignRunOptions {
  bootstrap: string;
  /** FOREIGN_FAULTS for its agents */
  faults?: string;
  /** The agents started (default: all); the others' topics exist, and nobody reads them */
  only?: readonly string[];
  /** Observer settings beside the system's own */
  observerEnv?: Record<string, string>;
  log?: (line: string) => void;
}

export class ForeignRun {
  readonly history: HistoryTail;
  readonly lines: string[] = [];
  #observer: Deno.ChildProcess | undefined;
  #supervisor: Supervisor | undefined;
  #stopped = { agents: false, observer: false };

  private constructor(
    readonly system: ForeignSystem,
    readonly options: ForeignRunOptions,
    readonly run: string,
    readonly dataDir: string,
    readonly stateDir: string,
    readonly bus: KafkaBus,
    readonly topics: string[],
  ) {
    this.history = new HistoryTail(activePath(dataDir, DIFF_FILE_BASE));
  }

  static async start(system: ForeignSystem, options: ForeignRunOptions): Promise<ForeignRun> {
    const log = options.log ?? (() => {});
    await system.install(log);
    const run = `f${crypto.randomUUID().slice(0, 6)}`;
    const dataDir = await Deno.makeTempDir({ prefix: "eval-history-" });
    const stateDir = await Deno.makeTempDir({ prefix: "eval-agents-" });
    const bus = new KafkaBus(options.bootstrap.split(","), `eval-${run}`);
    const topics = [...system.agents, system.userInbox].map((a) => system.topic(a, run));
    const r = new ForeignRun(system, options, run, dataDir, stateDir, bus, topics);
    try {
      await bus.createTopics(topics, 3);
      r.#observer = spawnObserver({
        bootstrap: options.bootstrap,
        // Its own group and nothing of ours under this prefix: the pattern says what to read
        prefix: `${run}-`,
        dataDir,
        port: freePort(),
        stateDir,
        snapshotIntervalS: 2,
        env: { ...system.observerEnv(run), ...options.observerEnv },
      });
      await r.history.waitFor(
        "the observer's first queue samples",
        (x) => x.type === "queue_sample",
        60_000,
      );
      const started = options.only ?? system.agents;
      r.#supervisor = new Supervisor({
        agents: [...started],
        agentScript: "",
        agentCommand: (agent) => system.command(agent),
        stateDir,
        env: {
          ...system.env(run, stateDir),
          KAFKA_BOOTSTRAP_SERVERS: options.bootstrap,
          FOREIGN_FAULTS: options.faults ?? "",
        },
        output: (line) => r.lines.push(line),
      });
      await r.#supervisor.start();
      // Work waits until the observer saw every running agent's consumer read its topic
      for (const agent of started) {
        await r.history.waitFor(
          `${agent}'s consumer reading its topic`,
          (x) => x.type === "queue_sample" && x.agent === agent && x.members.length > 0,
          90_000,
        );
      }
      return r;
    } catch (err) {
      await r.close();
      throw err;
    }
  }

  /** Sends requests through the system's own client and waits for their answers */
  ask(prompts: string[], timeoutMs = 60_000): Promise<ForeignAnswer[]> {
    return this.system.ask(this.options.bootstrap, this.run, prompts, timeoutMs);
  }

  /** The pid of an agent's running process, from the supervisor's processes.json */
  pid(agent: string): Promise<number> {
    return agentPid(this.stateDir, agent);
  }

  /** Sends a signal to an agent's process from outside (kill -9, SIGSTOP, SIGCONT) */
  async signal(agent: string, signal: Deno.Signal): Promise<number> {
    const pid = await this.pid(agent);
    Deno.kill(pid, signal);
    this.options.log?.(`sent ${signal} to ${agent} (pid ${pid})`);
    return pid;
  }

  /** Waits for a line an agent printed (its own log of the work it does) */
  async waitForLine(what: string, match: RegExp, timeoutMs = 60_000): Promise<string> {
    return await until(what, () => this.lines.find((l) => match.test(l)), timeoutMs);
  }

  /** Waits until the observer has recorded everything in the topics, then one more sample */
  settle(timeoutMs = 60_000): Promise<void> {
    return settleHistory(this.bus, this.topics, this.history, timeoutMs);
  }

  agentLines(): string[] {
    return this.lines;
  }

  /** Records of the system no dialect could read: there must be none */
  malformed(): number {
    return this.history.records.filter((r) => r.type === "message_malformed").length;
  }

  async stopAgents(): Promise<void> {
    if (this.#stopped.agents) return;
    this.#stopped.agents = true;
    await this.#supervisor?.stop();
  }

  async close(): Promise<void> {
    // teardown: each step runs whatever the one before did (a stop that fails leaves nothing to do)
    await this.stopAgents().catch(() => {});
    if (this.#observer !== undefined && !this.#stopped.observer) {
      this.#stopped.observer = true;
      try {
        this.#observer.kill("SIGTERM");
      } catch { /* already gone */ }
      await this.#observer.status;
    }
    await this.bus.deleteTopics(this.topics).catch(() => {});
    await this.bus.close().catch(() => {});
    await Deno.remove(this.stateDir, { recursive: true }).catch(() => {});
  }
}
