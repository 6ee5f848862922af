/**
 * A topic the broker does not have, and the one line that tells a user how to create it. The
 * broker refuses to create topics on use (`auto.create.topics.enable=false`), so a queue nobody
 * created is a deployment mistake an agent reports rather than works around.
 */

import { DEFAULT_TOPIC_PREFIX, sampleQueues } from "./topics.ts";

/**
 * The broker at `brokers` has no topic `topic`: it was asked, not guessed. Retriable: the same
 * request succeeds once someone creates the topic, but nothing here creates it.
 */
export class MissingTopicError extends Error {
  override name = "MissingTopicError";
  readonly retriable = true;

  constructor(
    readonly topic: string,
    readonly brokers: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`Topic "${topic}" does not exist on ${brokers.join(",")}`, options);
  }
}

/**
 * What is missing and how to create it, for an agent or a script running under `prefix`:
 * `topic "team-a-researcher" does not exist on 127.0.0.1:9092; create it with
 * "KAFKA_TOPIC_PREFIX=team-a- deno task kafka start" (or kafka-topics.sh ...)`. `deno task kafka
 * start` is offered only for the queues it creates.
 */
export function missingTopicLine(error: MissingTopicError, prefix: string): string {
  const brokers = error.brokers.join(",");
  const manual = `kafka-topics.sh --bootstrap-server ${brokers} --create --topic ${error.topic}`;
  const what = `topic "${error.topic}" does not exist on ${brokers}; create it with`;
  if (!sampleQueues(prefix).includes(error.topic)) return `${what} ${manual}`;
  const env = prefix === DEFAULT_TOPIC_PREFIX ? "" : `KAFKA_TOPIC_PREFIX=${prefix} `;
  return `${what} "${env}deno task kafka start" (or ${manual})`;
}
