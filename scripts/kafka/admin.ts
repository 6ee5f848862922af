/** Talking to the broker with kafkajs' admin client: is it up, which topics, create the missing */

import { type Admin, Kafka, logLevel } from "kafkajs";
import { createMissingTopics, silenceKafkaJsTimeoutWarnings } from "@mat/agents/kafkajs";
import { kafkaSettings } from "./settings.ts";

interface ClientOptions {
  /** Retries of each admin request; 0 makes probing a dead broker fail at once */
  retries: number;
}

async function withAdmin<T>(
  brokers: string[],
  options: ClientOptions,
  use: (admin: Admin) => Promise<T>,
): Promise<T> {
  silenceKafkaJsTimeoutWarnings();
  const kafka = new Kafka({
    clientId: "mat-kafka-script",
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: options.retries, initialRetryTime: 250, maxRetryTime: 2_000 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await use(admin);
  } finally {
    // the answer is in hand: a client that fails to disconnect has nothing left to do
    await admin.disconnect().catch(() => {});
  }
}

/** True when a broker at `brokers` answers a metadata request within a few seconds */
export async function brokerAnswers(brokers: string[] = kafkaSettings().brokers): Promise<boolean> {
  try {
    await withAdmin(brokers, { retries: 0 }, (admin) => admin.listTopics());
    return true;
  } catch {
    return false;
  }
}

/** A topic and its partition count */
export interface TopicInfo {
  name: string;
  partitions: number;
}

/** The cluster's topics, internal ones (`__consumer_offsets`, ...) left out, sorted by name */
export async function listTopics(
  brokers: string[] = kafkaSettings().brokers,
): Promise<TopicInfo[]> {
  return await withAdmin(brokers, { retries: 2 }, async (admin) => {
    const names = (await admin.listTopics()).filter((name) => !name.startsWith("__")).sort();
    if (names.length === 0) return [];
    const { topics } = await admin.fetchTopicMetadata({ topics: names });
    return topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.length }))
      .sort((a, b) => a.name.localeCompare(b.name));
  });
}

/** Which of the requested topics `ensureTopics` created and which were there already */
export interface EnsuredTopics {
  created: string[];
  existing: string[];
}

/** Creates the missing ones of `topics` with `partitions` partitions and replication factor 1 */
export async function ensureTopics(
  brokers: string[],
  topics: readonly string[],
  partitions: number,
): Promise<EnsuredTopics> {
  return await withAdmin(brokers, { retries: 5 }, async (admin) => {
    const created = await createMissingTopics(admin, topics, partitions);
    return { created, existing: topics.filter((topic) => !created.includes(topic)) };
  });
}
