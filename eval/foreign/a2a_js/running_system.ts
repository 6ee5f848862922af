/**
 * The a2a-js system running for a test, the way the eval runs a foreign system: its topics made
 * (3 partitions each, for every agent and the caller's inbox) by a kafkajs admin, each agent the
 * process `command(agent)` names with `env(run)`, and everything on the topics readable back as
 * it is on the broker; hands to signal an agent from outside, start it again, and ask the broker
 * how many members its group has. `stop()` ends the agents with SIGTERM and deletes the topics and
 * the consumer groups.
 */

import { type Admin, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import type { ForeignSystem } from "../foreign_system.ts";
import { until } from "../../until.ts";

/** One record as the broker holds it: headers as strings, the value parsed as JSON */
export interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  value: unknown;
}

/** How an agent process ended, and what it printed (over all its restarts) */
export interface AgentExit {
  agent: string;
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function stringHeaders(message: KafkaMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}

function parseValue(message: KafkaMessage): unknown {
  const text = message.value?.toString("utf8");
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One agent's process and everything it printed so far */
interface AgentProcess {
  agent: string;
  child: Deno.ChildProcess;
  output: { stdout: string; stderr: string };
  /** Resolves once both of its streams are read to their end */
  drained: Promise<void>;
}

async function append(
  stream: ReadableStream<Uint8Array>,
  output: { stdout: string; stderr: string },
  into: "stdout" | "stderr",
): Promise<void> {
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output[into] += chunk;
}

export class RunningSystem {
  readonly kafka: Kafka;
  readonly #admin: Admin;
  #children = new Map<string, AgentProcess>();
  /** The groups the test's readers read in, deleted with the run's */
  #readerGroups: string[] = [];

  private constructor(
    readonly system: ForeignSystem,
    readonly bootstrap: string,
    readonly run: string,
    readonly faults: string,
  ) {
    this.kafka = new Kafka({
      clientId: `test-${run}`,
      brokers: bootstrap.split(","),
      logLevel: logLevel.ERROR,
    });
    this.#admin = this.kafka.admin();
  }

  /** Every topic of the run: the agents' and the caller's inbox */
  get topics(): string[] {
    return [...this.system.agents, this.system.userInbox].map((a) =>
      this.system.topic(a, this.run)
    );
  }

  /** Makes the run's topics and starts every agent with FOREIGN_FAULTS set to `faults` */
  static async start(
    system: ForeignSystem,
    bootstrap: string,
    faults = "",
  ): Promise<RunningSystem> {
    const run = `t${Date.now().toString(36)}${crypto.randomUUID().slice(0, 6)}`;
    const running = new RunningSystem(system, bootstrap, run, faults);
    await running.#admin.connect();
    try {
      await running.#admin.createTopics({
        topics: running.topics.map((topic) => ({ topic, numPartitions: 3 })),
        waitForLeaders: true,
      });
    } catch (err) {
      await running.#admin.disconnect();
      throw err;
    }
    for (const agent of system.agents) running.#spawn(agent, { stdout: "", stderr: "" });
    return running;
  }

  #spawn(agent: string, output: { stdout: string; stderr: string }): void {
    const [program, ...args] = this.system.command(agent);
    if (program === undefined) throw new RangeError(`Empty command for agent "${agent}"`);
    const child = new Deno.Command(program, {
      args,
      env: {
        KAFKA_BOOTSTRAP_SERVERS: this.bootstrap,
        FOREIGN_FAULTS: this.faults,
        ...this.system.env(this.run),
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const drained = Promise.all([
      append(child.stdout, output, "stdout"),
      append(child.stderr, output, "stderr"),
    ]).then(() => {});
    this.#children.set(agent, { agent, child, output, drained });
  }

  #process(agent: string): AgentProcess {
    const p = this.#children.get(agent);
    if (p === undefined) throw new RangeError(`No process of agent "${agent}"`);
    return p;
  }

  /** What an agent printed on stdout so far, over all its restarts */
  stdout(agent: string): string {
    return this.#process(agent).output.stdout;
  }

  /** Sends a signal to an agent's process from outside */
  signal(agent: string, signal: Deno.Signal): void {
    Deno.kill(this.#process(agent).child.pid, signal);
  }

  /** Waits for an agent's process to end, then starts it again (its output goes on) */
  async restart(agent: string): Promise<Deno.CommandStatus> {
    const p = this.#process(agent);
    const status = await p.child.status;
    await p.drained;
    this.#spawn(agent, p.output);
    return status;
  }

  /** How many members the broker says an agent's consumer group has */
  async groupMembers(agent: string): Promise<number> {
    const { groups } = await this.#admin.describeGroups([this.system.group(agent, this.run)]);
    return groups[0]?.members.length ?? 0;
  }

  /**
   * Reads every topic of the run from the beginning until `enough` says the records suffice
   */
  async read(
    what: string,
    enough: (records: TopicRecord[]) => boolean,
    timeoutMs = 60_000,
  ): Promise<TopicRecord[]> {
    const groupId = `test-reader-${crypto.randomUUID()}`;
    this.#readerGroups.push(groupId);
    const consumer = this.kafka.consumer({ groupId });
    const records: TopicRecord[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: this.topics, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ topic, partition, message }) => {
          records.push({
            topic,
            partition,
            offset: message.offset,
            key: message.key?.toString("utf8") ?? null,
            headers: stringHeaders(message),
            value: parseValue(message),
          });
          return Promise.resolve();
        },
      });
      await until(what, () => enough(records) ? true : undefined, timeoutMs);
      return records;
    } finally {
      await consumer.disconnect();
    }
  }

  /** Ends every agent with SIGTERM, waits for each, and deletes the run's topics */
  async stop(): Promise<AgentExit[]> {
    const exits: AgentExit[] = [];
    try {
      for (const { child } of this.#children.values()) {
        try {
          child.kill("SIGTERM");
        } catch (err) {
          // already exited: its status says how
          if (!(err instanceof TypeError)) throw err;
        }
      }
      for (const { agent, child, output, drained } of this.#children.values()) {
        const status = await child.status;
        await drained;
        exits.push({ agent, code: status.code, signal: status.signal, ...output });
      }
    } finally {
      try {
        await this.#admin.deleteTopics({ topics: this.topics });
        const groups = [...this.system.agents, this.system.userInbox]
          .map((a) => this.system.group(a, this.run));
        // a group the broker no longer knows (or never did) has nothing left to delete
        await this.#admin.deleteGroups([...groups, ...this.#readerGroups]).catch(() => {});
      } finally {
        await this.#admin.disconnect();
      }
    }
    return exits;
  }
}
