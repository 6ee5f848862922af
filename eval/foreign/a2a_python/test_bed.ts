/**
 * A run of the A2A Python system for tests, as the eval runs it: its topics created on the broker,
 * each agent a subprocess started from `a2aPython.command`, every record of the run readable
 * afterwards, and everything (processes, topics, groups) taken down by `close`.
 */

import { type Admin, Kafka, logLevel } from "kafkajs";
import {
  createMissingTopics,
  disconnectAll,
  headerText,
  silenceKafkaJsTimeoutWarnings,
} from "@mat/agents/kafkajs";
import { textLines } from "@mat/agents/lines";
import { until } from "../../until.ts";
import { a2aPython, PARTITIONS, topics } from "./system.ts";

/** One record of the run as it is on the broker */
export interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  headers: Record<string, string>;
  value: string;
}

/** An agent's process and what it printed */
export class AgentProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #output: Promise<void>;
  #status: Deno.CommandStatus | undefined;

  constructor(readonly agent: string, command: string[], env: Record<string, string>) {
    const [program, ...args] = command;
    if (program === undefined) throw new RangeError(`Empty command for agent "${agent}"`);
    this.#child = new Deno.Command(program, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>, into: string[]) => {
      for await (const line of textLines(stream)) into.push(line);
    };
    this.#output = Promise.all([
      collect(this.#child.stdout, this.stdout),
      collect(this.#child.stderr, this.stderr),
    ]).then(() => undefined);
    this.#child.status.then((status) => this.#status = status);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Lines of stdout that contain `text` */
  linesWith(text: string): string[] {
    return this.stdout.filter((line) => line.includes(text));
  }

  /** Waits until `count` lines of stdout contain `text` */
  async printed(text: string, count = 1): Promise<void> {
    await until(`${this.agent} to print "${text}" ${count} times`, () => {
      if (this.linesWith(text).length >= count) return true;
      if (this.#status !== undefined) {
        throw new Error(`${this.agent} exited (${this.#status.code}):\n${this.stderr.join("\n")}`);
      }
      return undefined;
    });
  }

  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch (err) {
      if (!(err instanceof TypeError)) throw err; // it exited meanwhile
    }
  }

  /**
   * SIGTERM (unless it has exited), then its exit status once its output is read; SIGKILL if it
   * has not exited after `graceMs` (its status then says so)
   */
  async stop(graceMs = 30_000): Promise<Deno.CommandStatus> {
    if (this.#status === undefined) {
      this.#kill("SIGCONT");
      this.#kill("SIGTERM");
    }
    const timer = setTimeout(() => this.#kill("SIGKILL"), graceMs);
    try {
      const status = await this.#child.status;
      await this.#output;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }
}

export class TestBed {
  readonly run = `t${crypto.randomUUID().slice(0, 8)}`;
  readonly processes: AgentProcess[] = [];
  readonly #kafka: Kafka;
  readonly #admin: Admin;

  private constructor(readonly bootstrap: string, readonly faults: string) {
    silenceKafkaJsTimeoutWarnings();
    this.#kafka = new Kafka({
      clientId: `a2a-python-test-${this.run}`,
      brokers: bootstrap.split(","),
      logLevel: logLevel.ERROR,
    });
    this.#admin = this.#kafka.admin();
  }

  /** Installs the system and creates the run's topics (no agent started yet) */
  static async create(faults = ""): Promise<TestBed> {
    const bootstrap = Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") || "127.0.0.1:9092";
    await a2aPython.install((line) => console.error(line));
    const bed = new TestBed(bootstrap, faults);
    await bed.#admin.connect();
    await createMissingTopics(bed.#admin, topics(bed.run), PARTITIONS);
    return bed;
  }

  /** Starts one agent's process as the eval's supervisor would (with the bed's faults, or `faults`) */
  start(agent: string, faults = this.faults): AgentProcess {
    const process = new AgentProcess(agent, a2aPython.command(agent), {
      ...a2aPython.env(this.run),
      KAFKA_BOOTSTRAP_SERVERS: this.bootstrap,
      FOREIGN_FAULTS: faults,
    });
    this.processes.push(process);
    return process;
  }

  startAll(): AgentProcess[] {
    return a2aPython.agents.map((agent) => this.start(agent));
  }

  /** Records on the run's topics now, or on the inboxes of `agents` */
  async recordCount(agents?: string[]): Promise<number> {
    let count = 0;
    const some = agents?.map((agent) => a2aPython.topic(agent, this.run));
    for (const topic of some ?? topics(this.run)) {
      for (const p of await this.#admin.fetchTopicOffsets(topic)) {
        count += Number(p.high) - Number(p.low);
      }
    }
    return count;
  }

  /** Members of an agent's consumer group, as the broker tells */
  async groupMembers(agent: string): Promise<number> {
    const { groups } = await this.#admin.describeGroups([a2aPython.group(agent, this.run)]);
    return groups[0]?.members.length ?? 0;
  }

  /** Every record of the run's topics, read from the beginning by a group of its own */
  async records(): Promise<TopicRecord[]> {
    const expected = await this.recordCount();
    const groupId = `a2a-${this.run}-test-reader`;
    const consumer = this.#kafka.consumer({ groupId });
    const records: TopicRecord[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: topics(this.run), fromBeginning: true });
      await consumer.run({
        eachMessage: ({ topic, partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) {
            const text = headerText(value);
            if (text !== undefined) headers[name] = text;
          }
          records.push({
            topic,
            partition,
            offset: message.offset,
            key: message.key?.toString(),
            headers,
            value: message.value?.toString() ?? "",
          });
          return Promise.resolve();
        },
      });
      await until(`${expected} records of run ${this.run}`, () => {
        return records.length >= expected ? true : undefined;
      });
    } finally {
      await disconnectAll([consumer]);
    }
    return records;
  }

  /** Stops every agent still running (SIGTERM), deletes the run's topics and groups */
  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
    try {
      await this.#admin.deleteTopics({ topics: topics(this.run) }).catch(() => undefined);
      const { groups } = await this.#admin.listGroups();
      const ours = groups.map((g) => g.groupId).filter((g) => g.startsWith(`a2a-${this.run}-`));
      if (ours.length > 0) await this.#admin.deleteGroups(ours).catch(() => undefined);
    } finally {
      await disconnectAll([this.#admin]);
    }
  }
}
