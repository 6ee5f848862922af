/**
 * Test harness: an isolated set of agent queues on the real broker (a unique topic prefix), the
 * real supervisor running the real agents as subprocesses, and readers for what went over the wire.
 * Exported as `@mat/agents/testing` for the other members' tests.
 */

import { type Envelope, parseEnvelope } from "./protocol/envelope.ts";
import { KafkaBus } from "./kafka_bus.ts";
import { bootstrapServers } from "./bootstrap_servers.ts";
import { textLines } from "./line_splitter.ts";
import { SAMPLE_AGENTS, topicFor, USER_INBOX } from "./topics.ts";
import { isRecord } from "./is_record.ts";

export interface SeenRecord {
  topic: string;
  partition: number;
  offset: string;
  value: string;
  envelope?: Envelope;
}

/** Agent queues under a prefix of their own, deleted again by `close()` */
export class TestQueues {
  readonly bus: KafkaBus;
  readonly topics: string[];

  private constructor(readonly prefix: string, agents: readonly string[]) {
    this.bus = new KafkaBus(bootstrapServers(), `test-${prefix}`);
    this.topics = agents.map((a) => topicFor(a, prefix));
  }

  static async create(
    agents: readonly string[] = [...SAMPLE_AGENTS, USER_INBOX],
    partitions = 2,
  ): Promise<TestQueues> {
    const prefix = `t${crypto.randomUUID().slice(0, 8)}-agent-queue-`;
    const queues = new TestQueues(prefix, agents);
    await queues.bus.createTopics(queues.topics, partitions);
    return queues;
  }

  topic(agent: string): string {
    return topicFor(agent, this.prefix);
  }

  /** Every record on a queue so far, read by a throwaway group */
  async read(agent: string): Promise<SeenRecord[]> {
    const seen: SeenRecord[] = [];
    const topic = this.topic(agent);
    const ends = await this.bus.highWatermarks(topic);
    const total = ends.reduce((n, e) => n + Number(e.offset), 0);
    const group = `reader-${crypto.randomUUID().slice(0, 8)}`;
    const done = Promise.withResolvers<void>();
    if (total === 0) done.resolve();
    const sub = await this.bus.consume({
      groupId: group,
      topics: [topic],
      fromBeginning: true,
      onRecord: (r) => {
        const value = r.value === null ? "" : new TextDecoder().decode(r.value);
        const parsed = parseEnvelope(r.value);
        seen.push({
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          value,
          ...(parsed.ok ? { envelope: parsed.envelope } : {}),
        });
        if (seen.length >= total) done.resolve();
        return Promise.resolve();
      },
    });
    await Promise.race([done.promise, new Promise((r) => setTimeout(r, 20_000))]);
    await sub.stop();
    await this.bus.deleteGroup(group);
    return seen;
  }

  async close(): Promise<void> {
    // cleanup: a topic the test never created, or a broker already gone, leaves nothing to delete
    await this.bus.deleteTopics(this.topics).catch(() => {});
    await this.bus.close();
  }
}

/** The real supervisor (`agents/supervisor_main.ts`) as a subprocess, its output collected */
export class AgentsProcess {
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#reading = this.#read(child.stdout);
  }

  static start(
    queues: { prefix: string },
    options: {
      stateDir: string;
      env?: Record<string, string>;
      only?: string[];
      /** `--replicas`: N, or N,agent=M... */
      replicas?: string;
    },
  ): AgentsProcess {
    const script = new URL("./supervisor_main.ts", import.meta.url).pathname;
    const args = ["run", "--allow-all", script];
    if (options.only) args.push("--only", options.only.join(","));
    if (options.replicas) args.push("--replicas", options.replicas);
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env: {
        KAFKA_BOOTSTRAP_SERVERS: bootstrapServers().join(","),
        KAFKA_TOPIC_PREFIX: queues.prefix,
        AGENTS_STATE_DIR: options.stateDir,
        AGENT_SESSION_TIMEOUT_MS: "6000",
        ...options.env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new AgentsProcess(child);
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const line of textLines(stream, { unterminated: "torn" })) this.lines.push(line);
  }

  /** Lines printed so far that parse as JSON log objects */
  logs(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.lines) {
      try {
        const v: unknown = JSON.parse(line);
        if (isRecord(v)) out.push(v);
      } catch { /* not a log line */ }
    }
    return out;
  }

  /** Resolves once `count` lines printed so far satisfy `test` */
  async waitFor(test: (line: string) => boolean, count = 1, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.lines.filter(test).length < count) {
      if (Date.now() > until) {
        throw new Error(`Timed out waiting for ${count} matching line(s)`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until every agent printed "agent started" (`count` times in all) */
  ready(count = 4, timeoutMs = 60_000): Promise<void> {
    return this.waitFor((l) => l.includes(`"msg":"agent started"`), count, timeoutMs);
  }

  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    const status = await this.#child.status;
    // the reader ends with an error when the killed child's pipe breaks: its lines are in hand
    await this.#reading.catch(() => {});
    return status;
  }
}
