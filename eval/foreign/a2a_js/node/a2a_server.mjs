// deno-lint-ignore-file explicit-module-boundary-types -- JSDoc types it (npm run check: tsc)
/**
 * An A2A agent served by @a2a-js/sdk's own server stack, with Kafka in the place of HTTP: the
 * JSON-RPC request that came in a CloudEvent goes to the SDK's `JsonRpcTransportHandler` (which
 * validates it and calls `DefaultRequestHandler`, which runs the agent's `AgentExecutor` and keeps
 * its tasks in an `InMemoryTaskStore`), and the JSON-RPC response it makes goes back.
 *
 * One change on the way out: a `message/send` answered by a Task that stopped waiting on a person
 * (`input-required`, `auth-required`) is sent as that task's final status-update event (what a
 * streaming A2A server pushes), so the requester sees the task interrupted, not answered.
 */

import { isObject } from "./a2a_objects.mjs";
import npm from "./npm_packages.cjs";

const { DefaultRequestHandler, InMemoryTaskStore, JsonRpcTransportHandler } = npm.a2aServer;

/** @typedef {import("@a2a-js/sdk").AgentCard} AgentCard */
/** @typedef {import("@a2a-js/sdk").JSONRPCResponse} JSONRPCResponse */
/** @typedef {import("@a2a-js/sdk").SendStreamingMessageResponse} SendStreamingMessageResponse */
/** @typedef {import("@a2a-js/sdk/server").AgentExecutor} AgentExecutor */

/** The states in which a task waits on a person */
const INTERRUPTED = new Set(["input-required", "auth-required"]);

/**
 * The card an agent of this system describes itself with (A2A v0.3)
 * @param {string} name
 * @param {string} topic
 * @param {string} description
 * @returns {AgentCard}
 */
export function agentCard(name, topic, description) {
  return {
    name,
    description,
    url: `kafka:${topic}`,
    preferredTransport: "JSONRPC",
    protocolVersion: "0.3.0",
    version: "0.1.0",
    capabilities: { streaming: false, pushNotifications: false },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [{ id: name, name, description, tags: [name] }],
  };
}

/**
 * The CloudEvent type of a response on the wire
 * @param {JSONRPCResponse} response
 * @returns {string}
 */
export function eventTypeOf(response) {
  if ("error" in response) return "a2a.error";
  const result = response.result;
  if (isObject(result) && typeof result["kind"] === "string") return `a2a.${result["kind"]}`;
  return "a2a.result";
}

/** One agent's A2A server */
export class A2aServer {
  /**
   * @param {AgentCard} card
   * @param {AgentExecutor} executor
   */
  constructor(card, executor) {
    this.card = card;
    this.transport = new JsonRpcTransportHandler(
      new DefaultRequestHandler(card, new InMemoryTaskStore(), executor),
    );
  }

  /**
   * The response to one JSON-RPC request, as it goes on the wire
   * @param {unknown} request
   * @returns {Promise<JSONRPCResponse>}
   */
  async answer(request) {
    const response = await this.transport.handle(request);
    if (!("jsonrpc" in response)) {
      // a stream (message/stream): the card refuses streaming, so this is never reached; the
      // last event is the answer
      /** @type {JSONRPCResponse | undefined} */
      let last;
      for await (const r of response) last = r;
      if (last === undefined) throw new Error("The A2A event stream ended without an event");
      return last;
    }
    return onTheWire(response);
  }
}

/**
 * A response as it goes out: a Task waiting on a person becomes its final status-update
 * @param {JSONRPCResponse} response
 * @returns {JSONRPCResponse}
 */
function onTheWire(response) {
  if (!("result" in response)) return response;
  const task = response.result;
  if (!isObject(task) || task["kind"] !== "task") return response;
  const t = /** @type {import("@a2a-js/sdk").Task} */ (task);
  if (!INTERRUPTED.has(t.status.state)) return response;
  /** @type {SendStreamingMessageResponse} */
  const update = {
    jsonrpc: "2.0",
    id: response.id,
    result: {
      kind: "status-update",
      taskId: t.id,
      contextId: t.contextId,
      status: t.status,
      final: true,
    },
  };
  return update;
}
