/** How agent names map to Kafka topics and consumer groups. */

import { isAgentName } from "./envelope.ts";

/** Prefix of every agent queue unless `KAFKA_TOPIC_PREFIX` says otherwise */
export const DEFAULT_TOPIC_PREFIX = "agent-queue-";

/** Prefix of every agent queue; `KAFKA_TOPIC_PREFIX` overrides it (tests isolate themselves so). */
export function topicPrefix(env: { get(key: string): string | undefined } = Deno.env): string {
  return env.get("KAFKA_TOPIC_PREFIX") || DEFAULT_TOPIC_PREFIX;
}

/** The queue an agent reads: `<prefix><agent>`, by default `agent-queue-<agent>` */
export function topicFor(agent: string, prefix: string = topicPrefix()): string {
  if (!isAgentName(agent)) throw new RangeError(`Invalid agent name "${agent}"`);
  return `${prefix}${agent}`;
}

/** The agent a queue belongs to, or undefined when the topic is not an agent queue */
export function agentOfTopic(topic: string, prefix: string = topicPrefix()): string | undefined {
  if (!topic.startsWith(prefix)) return undefined;
  const agent = topic.slice(prefix.length);
  return isAgentName(agent) ? agent : undefined;
}

/** The consumer group an agent consumes its queue in: `agent-<agent>` (prefixed like topics) */
export function groupFor(agent: string, prefix: string = topicPrefix()): string {
  const base = `agent-${agent}`;
  return prefix === DEFAULT_TOPIC_PREFIX ? base : `${prefix}${base}`;
}

/** The four sample agents, and `user`: the inbox where `submit` reads answers. */
export const SAMPLE_AGENTS = ["orchestrator", "researcher", "writer", "coder"] as const;
export const USER_INBOX = "user";

/** The queues `deno task kafka start` creates: the sample agents' and the user inbox */
export function sampleQueues(prefix: string = topicPrefix()): string[] {
  return [...SAMPLE_AGENTS, USER_INBOX].map((agent) => topicFor(agent, prefix));
}

/**
 * Record header naming the agent that produced a record. It lets a reader attribute even a record
 * whose value cannot be parsed (the envelope's `source` is then unreadable).
 */
export const SENDER_HEADER = "x-agent";
