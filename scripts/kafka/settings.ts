/**
 * Where the broker is, whether `deno task kafka` runs it, and how its queues are made: read from
 * `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_PORT`, `KAFKA_PARTITIONS` and `KAFKA_TOPIC_PREFIX`. Where the
 * brokers are and what the queues are called mean what they mean to every client:
 * `bootstrapServers` and `sampleQueues` of the agents' protocol.
 */

import {
  bootstrapServers,
  configuredBootstrapServers,
  kafkaPort,
  sampleQueues,
  topicPrefix,
} from "@mat/agents/protocol";

/** Something to read environment variables from: `Deno.env`, or a stub in tests */
export interface Env {
  get(key: string): string | undefined;
}

export const DEFAULT_PARTITIONS = 3;

/** Where the broker is and whether this script runs it */
export interface KafkaSettings {
  /** `host:port` of each bootstrap server */
  brokers: string[];
  /** True when no `KAFKA_BOOTSTRAP_SERVERS` is set, so the local broker is ours to run */
  managed: boolean;
  /** Client port of the local broker (`KAFKA_PORT`, default 9092), read even when not managed */
  port: number;
  /** Controller port of the local broker: `port + 1` */
  controllerPort: number;
  /** Partitions of each agent queue and the broker's `num.partitions` (`KAFKA_PARTITIONS`) */
  partitions: number;
  /** Prefix of the agent queues (`KAFKA_TOPIC_PREFIX`, default `agent-queue-`) */
  topicPrefix: string;
  /**
   * The queues `start` creates under that prefix: the four sample agents' and `user`, where
   * `submit` reads answers
   */
  queues: string[];
}

function positiveInteger(env: Env, name: string, fallback: number, max: number): number {
  const raw = env.get(name)?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`Invalid ${name} "${raw}": expected an integer from 1 to ${max}`);
  }
  return value;
}

/** Reads `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_PORT`, `KAFKA_PARTITIONS` and `KAFKA_TOPIC_PREFIX` */
export function kafkaSettings(env: Env = Deno.env): KafkaSettings {
  const port = kafkaPort(env);
  const partitions = positiveInteger(env, "KAFKA_PARTITIONS", DEFAULT_PARTITIONS, 1000);
  const configured = configuredBootstrapServers(env);
  for (const server of configured) {
    if (!/^[^\s:]+:\d+$/.test(server) && !/^\[[0-9a-fA-F:.]+\]:\d+$/.test(server)) {
      throw new RangeError(`Invalid KAFKA_BOOTSTRAP_SERVERS entry "${server}": expected host:port`);
    }
  }
  const prefix = topicPrefix(env);
  // Kafka's legal topic characters; a topic name's 249 characters leave room for the agent names
  if (!/^[a-zA-Z0-9._-]{1,200}$/.test(prefix)) {
    throw new RangeError(
      `Invalid KAFKA_TOPIC_PREFIX "${prefix}": expected up to 200 letters, digits, ".", "_" or "-"`,
    );
  }
  return {
    brokers: bootstrapServers(env),
    managed: configured.length === 0,
    port,
    controllerPort: port + 1,
    partitions,
    topicPrefix: prefix,
    queues: sampleQueues(prefix),
  };
}
