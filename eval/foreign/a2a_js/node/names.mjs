// deno-lint-ignore-file explicit-module-boundary-types -- JSDoc types it (npm run check: tsc)
/**
 * The names this system's agents, its client and the eval's `system.ts` agree on: the agents, the
 * requester's inbox, each one's topic and consumer group in a run, and the Kafka headers a request
 * and its answer carry besides the CloudEvent.
 */

/** The agents, the entry agent first */
export const AGENTS = /** @type {const} */ (["router", "coder", "reviewer"]);

/** The requester: its inbox is where answers to the client come back; it is no agent */
export const USER_INBOX = "caller";

/** The header naming the topic an answer goes to */
export const REPLY_TOPIC_HEADER = "reply_topic";

/** The header tying an answer to its request: the request message's `messageId` */
export const CORRELATION_ID_HEADER = "correlation_id";

/**
 * The topic `agent` (or the user inbox) reads in run `run`
 * @param {string} agent
 * @param {string} run
 * @returns {string}
 */
export function topicOf(agent, run) {
  return `agents.${run}.${agent}`;
}

/**
 * The consumer group `agent` (or the client) reads its topic in, in run `run`
 * @param {string} agent
 * @param {string} run
 * @returns {string}
 */
export function groupOf(agent, run) {
  return `js-${run}-${agent}`;
}
