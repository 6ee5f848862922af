/**
 * `status`: where the broker is, whether it answers, the local broker's pid, the topics and which
 * agent queues (under `KAFKA_TOPIC_PREFIX`) are missing
 */

import { brokerAnswers, listTopics, type TopicInfo } from "./admin.ts";
import { brokerPid } from "./broker_process.ts";
import { type Env, kafkaSettings } from "./settings.ts";

/** What `status` reports */
export interface KafkaStatus {
  bootstrap: string;
  managed: boolean;
  /** Pid of the running local broker (managed mode only) */
  pid?: number;
  answers: boolean;
  /** The cluster's topics, when it answers */
  topics: TopicInfo[];
  /** The agent queues `start` creates, and those of them the cluster lacks (when it answers) */
  queues: { prefix: string; names: string[]; missing: string[] };
}

export async function kafkaStatus(env: Env = Deno.env): Promise<KafkaStatus> {
  const settings = kafkaSettings(env);
  const status: KafkaStatus = {
    bootstrap: settings.brokers.join(","),
    managed: settings.managed,
    answers: await brokerAnswers(settings.brokers),
    topics: [],
    queues: { prefix: settings.topicPrefix, names: settings.queues, missing: [] },
  };
  if (settings.managed) {
    const pid = await brokerPid();
    if (pid !== undefined) status.pid = pid;
  }
  if (status.answers) {
    status.topics = await listTopics(settings.brokers);
    const present = new Set(status.topics.map((topic) => topic.name));
    status.queues.missing = settings.queues.filter((queue) => !present.has(queue));
  }
  return status;
}
