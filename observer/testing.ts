/**
 * Test harness of the observer: isolated agent queues on the real broker (a unique topic prefix,
 * deleted by `close()`), a temp data dir, and readers of what reached the files.
 */

import { bootstrapServers, topicFor } from "@mat/agents";
import { loadConfig, type ObserverConfig } from "./config.ts";
import { KafkaAdapter } from "./kafka_adapter.ts";
import { Observer } from "./observer.ts";
import { DIFF_FILE_BASE, type DiffRecord, validateDiffRecord } from "./record_format.ts";
import { readHistory } from "./time_machine_reader.ts";

export class TestBed {
  readonly kit: KafkaAdapter;
  readonly prefix: string;
  readonly dataDir: string;
  readonly brokers: string[];

  private constructor(prefix: string, dataDir: string, brokers: string[]) {
    this.prefix = prefix;
    this.dataDir = dataDir;
    this.brokers = brokers;
    this.kit = new KafkaAdapter({
      brokers,
      clientId: `test-${prefix}`,
      log: "nothing",
    });
  }

  /** A bed on the shared broker, or on `brokers`; with `waitForBroker` false, none is awaited */
  static async create(
    agents: string[],
    partitions = 2,
    options: { brokers?: string[]; waitForBroker?: boolean } = {},
  ): Promise<TestBed> {
    const prefix = `t${crypto.randomUUID().slice(0, 8)}-agent-queue-`;
    const bed = new TestBed(
      prefix,
      await Deno.makeTempDir({ prefix: "observer-test-" }),
      options.brokers ?? bootstrapServers(),
    );
    if (options.waitForBroker === false) return bed;
    await bed.waitForBroker();
    if (agents.length > 0) {
      await bed.kit.createTopics(agents.map((a) => topicFor(a, prefix)), partitions);
    }
    return bed;
  }

  async waitForBroker(timeoutMs = 90_000): Promise<void> {
    await waitFor(
      () => this.kit.listTopics().then(() => true, () => false),
      timeoutMs,
      "broker up",
    );
  }

  topic(agent: string): string {
    return topicFor(agent, this.prefix);
  }

  /** Environment for an observer (in-process or a subprocess) on this bed */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      KAFKA_TOPIC_PREFIX: this.prefix,
      KAFKA_BOOTSTRAP_SERVERS: this.brokers.join(","),
      TELEMETRY_DATA_DIR: this.dataDir,
      OBSERVER_SYNC_INTERVAL_MS: "50",
      OBSERVER_TOPIC_REFRESH_MS: "500",
      OBSERVER_QUEUE_POLL_MS: "300",
      OBSERVER_GROUP_REFRESH_MS: "600",
      OBSERVER_QUEUE_WINDOW: "3",
      SNAPSHOT_INTERVAL: "1",
      ...extra,
    };
  }

  config(extra: Record<string, string> = {}): ObserverConfig {
    const env = this.env(extra);
    return loadConfig({ get: (k) => env[k] ?? Deno.env.get(k) });
  }

  /** Every valid record of the diff history */
  async diff(): Promise<DiffRecord[]> {
    const out: DiffRecord[] = [];
    for await (const v of readHistory(this.dataDir, DIFF_FILE_BASE)) {
      const parsed = validateDiffRecord(v);
      if (!parsed.ok) throw new TypeError(`Invalid diff line: ${parsed.reason}`);
      out.push(parsed.record);
    }
    return out;
  }

  async close(): Promise<void> {
    const topics = (await this.kit.listTopics().catch(() => [])).filter((t) =>
      t.startsWith(this.prefix)
    );
    // cleanup: a topic the test never created, or a broker already gone, leaves nothing to delete
    if (topics.length > 0) await this.kit.deleteTopics(topics).catch(() => {});
    await this.kit.close();
    // cleanup: the directory may not exist; a test's result does not hang on it
    await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
  }
}

/** Polls until `check` holds; throws after `timeoutMs` naming what was awaited */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RunningObserver {
  observer: Observer;
  stop(): Promise<void>;
}

/** A real observer in this process on a bed, started; `stop()` stops it and its Kafka client */
export async function running(
  bed: TestBed,
  extra: Record<string, string> = {},
  /** Called between open and start (to attach a process source, say) */
  prepare: (observer: Observer) => void = () => {},
): Promise<RunningObserver> {
  const config = bed.config(extra);
  const kafka = new KafkaAdapter({
    brokers: config.brokers,
    clientId: "observer-test",
    log: "nothing",
  });
  const observer = await Observer.open(config, kafka);
  prepare(observer);
  observer.start();
  return {
    observer,
    async stop() {
      await observer.stop();
      await kafka.close();
    },
  };
}
