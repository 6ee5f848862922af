// deno-lint-ignore-file explicit-module-boundary-types -- JSDoc types it (npm run check: tsc)
/**
 * The requesting side of A2A over Kafka: sends a `message/send` JSON-RPC request in a structured
 * CloudEvent to an agent's topic, with the headers `reply_topic` (where the answer goes) and
 * `correlation_id` (the request message's `messageId`), and matches each response that comes back
 * to its request by that header. Many requests wait at once, each in the pending map.
 */

import { answerOf, isObject, sendMessageRequest, userMessage } from "./a2a_objects.mjs";
import { CORRELATION_ID_HEADER, REPLY_TOPIC_HEADER, topicOf } from "./names.mjs";

/** @typedef {import("./a2a_objects.mjs").Answer} Answer */
/** @typedef {import("./kafka_cloudevents.mjs").CloudEventsBus} CloudEventsBus */

/** The CloudEvent type of a request */
export const REQUEST_EVENT_TYPE = "a2a.message.send";

/**
 * What became of a response: it answered its request, it says the task is still under way, or no
 * request of this process waits on it (sent before a restart, or not ours), or its JSON-RPC id
 * is not its request's
 * @typedef {"answered" | "not_final" | "unknown_request" | "id_mismatch"} Resolution
 */

export class A2aKafkaClient {
  /**
   * The requests waiting, by message id
   * @type {Map<string, { agent: string, rpcId: string | number, resolve: (a: Answer) => void }>}
   */
  #pending = new Map();

  /**
   * @param {CloudEventsBus} bus
   * @param {{ self: string, run: string }} options `self`: the sender's name, its topic the reply
   *   topic
   */
  constructor(bus, { self, run }) {
    this.bus = bus;
    this.self = self;
    this.run = run;
    this.replyTopic = topicOf(self, run);
  }

  /** How many requests wait for an answer */
  get pending() {
    return this.#pending.size;
  }

  /**
   * Sends `text` to `agent` as a new task in conversation `contextId`
   * @param {string} agent
   * @param {string} text
   * @param {string} contextId
   * @returns {Promise<{ messageId: string, answer: Promise<Answer> }>}
   */
  async request(agent, text, contextId) {
    const message = userMessage(text, contextId);
    const request = sendMessageRequest(message);
    /** @type {Promise<Answer>} */
    const answer = new Promise((resolve) => {
      this.#pending.set(message.messageId, { agent, rpcId: request.id, resolve });
    });
    try {
      await this.bus.send(topicOf(agent, this.run), {
        type: REQUEST_EVENT_TYPE,
        source: this.self,
        data: request,
        key: contextId,
        headers: {
          [REPLY_TOPIC_HEADER]: this.replyTopic,
          [CORRELATION_ID_HEADER]: message.messageId,
        },
      });
    } catch (err) {
      this.#pending.delete(message.messageId);
      throw err;
    }
    return { messageId: message.messageId, answer };
  }

  /**
   * Hands a response that came back to the request it answers
   * @param {string | undefined} correlationId
   * @param {unknown} response
   * @returns {Resolution}
   */
  resolve(correlationId, response) {
    const waiting = correlationId === undefined ? undefined : this.#pending.get(correlationId);
    if (correlationId === undefined || waiting === undefined) return "unknown_request";
    if (isObject(response) && response["id"] !== waiting.rpcId) return "id_mismatch";
    const answer = answerOf(response);
    if (answer === undefined) return "not_final";
    this.#pending.delete(correlationId);
    waiting.resolve(answer);
    return "answered";
  }
}
