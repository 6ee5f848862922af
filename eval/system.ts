/**
 * The real system for one scenario: agent queues of its own on the broker, the real observer and
 * the real supervisor running the four agents as subprocesses, a client that sends requests and
 * collects their answers, and hands to break it from outside (signals to agent pids, a foreign
 * producer, the broker stopped and started). Every wait is on a condition (an answer, a record in
 * the observer's history), never a fixed sleep.
 */

import {
  type Envelope,
  KafkaBus,
  parseReplicas,
  replicasOf,
  SAMPLE_AGENTS,
  topicFor,
  USER_INBOX,
} from "@mat/agents";
import { AgentsProcess } from "@mat/agents/testing";
import { DIFF_FILE_BASE } from "@mat/observer";
import { spawnObserver } from "@mat/observer/process";
import { activePath } from "@mat/observer/segments";
import { Client } from "./client.ts";
import { HistoryTail } from "./history_tail.ts";
import { until } from "./until.ts";
import { agentPid, freePort } from "./processes.ts";
import { settleHistory } from "./settle.ts";

export { Client, HistoryTail, until };

export interface SystemOptions {
  bootstrap: string;
  /** AGENT_FAULTS for the agents */
  faults?: string;
  agentEnv?: Record<string, string>;
  /** The agents of the system, each with its queue (default: the four sample agents) */
  agents?: readonly string[];
  /** Agents the supervisor runs (default: all of them) */
  only?: string[];
  /** Processes of each agent: the supervisor's `--replicas` (N, or N,agent=M...; default 1) */
  replicas?: string;
  /** Partitions of every queue (default 2) */
  partitions?: number;
  /** Observer settings over the harness's own */
  observerEnv?: Record<string, string>;
  /** Extra agent queues to create (a queue nobody reads) */
  extraQueues?: string[];
  log?: (line: string) => void;
}

/** One running system: observer, supervisor and agents, client */
export class System {
  readonly history: HistoryTail;
  #observer: Deno.ChildProcess | undefined;
  #agents: AgentsProcess | undefined;
  #client: Client | undefined;
  #stopped = { agents: false, observer: false };

  private constructor(
    readonly options: SystemOptions,
    readonly prefix: string,
    readonly dataDir: string,
    readonly stateDir: string,
    readonly bus: KafkaBus,
    readonly topics: string[],
    readonly observerPort: number,
  ) {
    this.history = new HistoryTail(activePath(dataDir, DIFF_FILE_BASE));
  }

  get observerUrl(): string {
    return `http://127.0.0.1:${this.observerPort}`;
  }

  get client(): Client {
    if (this.#client === undefined) throw new Error("The system is not started");
    return this.#client;
  }

  get agents(): AgentsProcess {
    if (this.#agents === undefined) throw new Error("The agents are not started");
    return this.#agents;
  }

  static async start(options: SystemOptions): Promise<System> {
    const run = crypto.randomUUID().slice(0, 6);
    const prefix = `e${run}-agent-queue-`;
    const dataDir = await Deno.makeTempDir({ prefix: "eval-history-" });
    const stateDir = await Deno.makeTempDir({ prefix: "eval-agents-" });
    const bus = new KafkaBus(options.bootstrap.split(","), `eval-${run}`);
    const roster = options.agents ?? SAMPLE_AGENTS;
    const agents = [...roster, USER_INBOX, ...(options.extraQueues ?? [])];
    const topics = agents.map((a) => topicFor(a, prefix));
    const port = freePort();
    const sys = new System(
      options,
      prefix,
      dataDir,
      stateDir,
      bus,
      topics,
      port,
    );
    try {
      await bus.createTopics(topics, options.partitions ?? 2);
      sys.#spawnObserver();
      // The observer is up once it recorded its start and sampled the queues.
      await sys.history.waitFor(
        "the observer's first queue samples",
        (r) => r.type === "queue_sample",
        60_000,
      );
      sys.#agents = AgentsProcess.start({ prefix }, {
        stateDir,
        ...(options.only || options.agents ? { only: options.only ?? [...roster] } : {}),
        ...(options.replicas ? { replicas: options.replicas } : {}),
        env: {
          KAFKA_BOOTSTRAP_SERVERS: options.bootstrap,
          AGENT_FAULTS: options.faults ?? "",
          ORCHESTRATOR_STEP_TIMEOUT_MS: "4000",
          ORCHESTRATOR_MAX_ATTEMPTS: "2",
          ...options.agentEnv,
        },
      });
      const running = options.only ?? roster;
      const counts = parseReplicas(options.replicas ?? "1");
      const processes = running.reduce((n, agent) => n + replicasOf(counts, agent), 0);
      await sys.#agents.ready(processes, 60_000 + 2_000 * processes);
      // Work waits until the observer saw every running agent's consumers (each replica's) join
      // its group.
      for (const agent of running) {
        const replicas = replicasOf(counts, agent);
        await sys.history.waitFor(
          `${agent}'s ${replicas > 1 ? `${replicas} consumers` : "consumer"} in its group`,
          (r) => r.type === "queue_sample" && r.agent === agent && r.members.length >= replicas,
          60_000 + 2_000 * processes,
        );
      }
      sys.#client = await Client.start(bus, prefix);
      return sys;
    } catch (err) {
      await sys.close();
      throw err;
    }
  }

  /** Every line the agents and the supervisor printed so far */
  agentLines(): string[] {
    return this.#agents?.lines ?? [];
  }

  /**
   * Waits until the observer has recorded every record written to the queues so far, then one
   * more queue sample of each: what diagnose reads is then the whole story, not a lagging part
   */
  settle(timeoutMs = 60_000): Promise<void> {
    return settleHistory(this.bus, this.topics, this.history, timeoutMs);
  }

  /** Sends requests and waits for all of their answers */
  async ask(requests: string[], timeoutMs?: number): Promise<Envelope[]> {
    const ids = await this.client.send(requests);
    return await this.client.wait(ids, timeoutMs);
  }

  /** The pid of an agent's running process (of one replica), from the supervisor's processes.json */
  pid(agent: string, replica?: number): Promise<number> {
    return agentPid(this.stateDir, agent, replica);
  }

  /** The observer's pid (its /proc files tell its memory) */
  get observerPid(): number | undefined {
    return this.#observer?.pid;
  }

  /** Sends a signal to an agent's process (one replica's) from outside (kill -9, SIGSTOP, SIGCONT) */
  async signal(agent: string, signal: Deno.Signal, replica?: number): Promise<number> {
    const pid = await this.pid(agent, replica);
    Deno.kill(pid, signal);
    const which = replica === undefined ? agent : `${agent} replica ${replica}`;
    this.options.log?.(`sent ${signal} to ${which} (pid ${pid})`);
    return pid;
  }

  /** Writes records as a producer that is not an agent (no envelope, no sender header) */
  async produce(agent: string, values: string[]): Promise<void> {
    await this.bus.send(values.map((value) => ({ topic: topicFor(agent, this.prefix), value })));
  }

  /** SIGTERM to the supervisor: every agent stops cleanly */
  async stopAgents(): Promise<void> {
    if (this.#stopped.agents) return;
    this.#stopped.agents = true;
    await this.#agents?.stop();
  }

  #spawnObserver(): void {
    this.#observer = spawnObserver({
      bootstrap: this.options.bootstrap,
      prefix: this.prefix,
      dataDir: this.dataDir,
      port: this.observerPort,
      stateDir: this.stateDir,
      snapshotIntervalS: 2,
      ...(this.options.observerEnv ? { env: this.options.observerEnv } : {}),
    });
    this.#stopped.observer = false;
  }

  /** SIGTERM to the observer (a rollout stops it this way); its history stays */
  async stopObserver(): Promise<void> {
    if (this.#stopped.observer || this.#observer === undefined) return;
    this.#stopped.observer = true;
    try {
      this.#observer.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.#observer.status;
  }

  /**
   * Starts the observer again on the same history, port and queues (the second half of a
   * rollout); resolves once it recorded its start
   */
  async startObserver(): Promise<void> {
    if (!this.#stopped.observer) throw new Error("The observer is running already");
    const seq = (await this.history.refresh()).at(-1)?.seq ?? 0;
    this.#spawnObserver();
    await this.history.waitFor(
      "the observer's start again",
      (r) => r.type === "observer_started" && r.seq > seq,
      60_000,
    );
  }

  async close(): Promise<void> {
    await this.#client?.stop();
    // teardown: each step runs whatever the one before did (a stop that fails leaves nothing to do)
    await this.stopAgents().catch(() => {});
    await this.stopObserver().catch(() => {});
    await this.bus.deleteTopics(this.topics).catch(() => {});
    await this.bus.close().catch(() => {});
    await Deno.remove(this.stateDir, { recursive: true }).catch(() => {});
  }

  async removeHistory(): Promise<void> {
    // cleanup: the directory may not exist: nothing to remove
    await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
  }
}
