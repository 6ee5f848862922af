/** How agent names map to Kafka topics and consumer groups. */

import { isAgentName } from "./protocol/envelope.ts";

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
export function agentOfTopic(
  topic: string,
  prefixOrPattern: string | TopicPattern = topicPrefix(),
): string | undefined {
  if (typeof prefixOrPattern !== "string") return prefixOrPattern.agentOf(topic);
  if (!topic.startsWith(prefixOrPattern)) return undefined;
  const agent = topic.slice(prefixOrPattern.length);
  return isAgentName(agent) ? agent : undefined;
}

/**
 * Agent names of systems not built on our runtime: letters, digits and `._-`, up to 128 (ours are
 * a subset, `isAgentName`)
 */
export function isAgentLabel(value: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(value);
}

/**
 * Which topics are agent queues, and whose: a regular expression whose named group `agent` is
 * the agent (KAFKA_TOPIC_PATTERN, e.g. `^a2a\.inbox\.(?<agent>[^.]+)$`), by default the topic
 * prefix followed by an agent name.
 */
export class TopicPattern {
  readonly #regex: RegExp;

  /** Throws a SyntaxError or RangeError saying why `source` is not a usable pattern */
  constructor(readonly source: string) {
    try {
      this.#regex = new RegExp(source);
    } catch (err) {
      throw new SyntaxError(
        `Invalid topic pattern "${source}": ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (!/\(\?<agent>/.test(source)) {
      throw new RangeError(
        `Topic pattern "${source}" has no named group "agent": write (?<agent>...) around the agent`,
      );
    }
  }

  /** The default pattern: the prefix, then an agent name */
  static ofPrefix(prefix: string): TopicPattern {
    return new TopicPattern(
      `^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?<agent>[a-z][a-z0-9_-]{0,62})$`,
    );
  }

  /** The agent whose queue `topic` is, undefined when it is none */
  agentOf(topic: string): string | undefined {
    const agent = this.#regex.exec(topic)?.groups?.["agent"];
    return agent !== undefined && isAgentLabel(agent) ? agent : undefined;
  }
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
