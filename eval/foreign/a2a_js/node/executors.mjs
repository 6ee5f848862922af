/**
 * What each agent does, as @a2a-js/sdk `AgentExecutor`s: each publishes the task it was given
 * (`submitted`, its request in its history), then one final status-update (`completed`, `failed`
 * or `input-required`, with the agent's text) and says the execution finished.
 *
 * - `coder` writes code for the prompt; `reviewer` reviews the code it is sent. Both play the
 *   faults FOREIGN_FAULTS gives them (a rate-limit failure every Nth task, a delay, a task that
 *   waits on a person).
 * - `router` asks `coder` for the code, then `reviewer` for a review of it, and answers with both;
 *   a worker's failure or wait on a person ends the router's task the same way, with the worker's
 *   text. Its executions run side by side: each waits on its own workers' answers.
 */

import { statusUpdate, submittedTask, textOf } from "./a2a_objects.mjs";
import { RATE_LIMIT_TEXT } from "./faults.mjs";

/** @typedef {import("@a2a-js/sdk/server").AgentExecutor} AgentExecutor */
/** @typedef {import("@a2a-js/sdk/server").ExecutionEventBus} ExecutionEventBus */
/** @typedef {import("@a2a-js/sdk/server").RequestContext} RequestContext */
/** @typedef {import("./a2a_objects.mjs").Answer} Answer */
/** @typedef {import("./a2a_client.mjs").A2aKafkaClient} A2aKafkaClient */
/** @typedef {import("./faults.mjs").FaultPlan} FaultPlan */

/** What a worker that waits on a person says */
export const INPUT_REQUIRED_TEXT = "Which language should the code be written in? " +
  "A person has to choose before the work can go on.";

/**
 * The coder's work: code for a prompt
 * @param {string} prompt
 * @returns {string}
 */
function writeCode(prompt) {
  const name = prompt.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "")
    .slice(0, 40) || "solution";
  return [
    `// ${prompt.replaceAll("\n", " ")}`,
    `export function ${/^[0-9]/.test(name) ? `f_${name}` : name}(input) {`,
    '  if (input === undefined) throw new TypeError("input is required");',
    "  return input;",
    "}",
  ].join("\n");
}

/**
 * The reviewer's work: a review of some code
 * @param {string} code
 * @returns {string}
 */
function review(code) {
  const lines = code.split("\n").length;
  return `Review: approved (${lines} lines read, input checked, no issues found)`;
}

/** The workers' skills by agent */
export const SKILLS = /** @type {const} */ ({
  coder: { describe: "Writes code for a prompt", work: writeCode },
  reviewer: { describe: "Reviews code", work: review },
});

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Publishes the task the request starts, unless it goes on one the store already had
 * @param {RequestContext} ctx
 * @param {ExecutionEventBus} bus
 */
function publishTask(ctx, bus) {
  if (ctx.task === undefined) {
    bus.publish(submittedTask(ctx.userMessage, ctx.taskId, ctx.contextId));
  }
}

/**
 * Ends a task the way an answer says
 * @param {RequestContext} ctx
 * @param {ExecutionEventBus} bus
 * @param {Answer} answer
 */
function finish(ctx, bus, answer) {
  const state = answer.outcome === "input_required" ? "input-required" : answer.outcome;
  bus.publish(statusUpdate(ctx.taskId, ctx.contextId, state, answer.text));
  bus.finished();
}

/** @implements {AgentExecutor} */
export class WorkerExecutor {
  /**
   * @param {string} name
   * @param {(text: string) => string} work
   * @param {FaultPlan} plan
   * @param {(line: string) => void} log
   */
  constructor(name, work, plan, log) {
    this.name = name;
    this.work = work;
    this.plan = plan;
    this.log = log;
  }

  /**
   * @param {RequestContext} ctx
   * @param {ExecutionEventBus} bus
   */
  execute = async (ctx, bus) => {
    publishTask(ctx, bus);
    this.log(`${this.name}: working on task ${ctx.taskId} (message ${ctx.userMessage.messageId})`);
    const { delayMs, outcome } = this.plan.next();
    if (delayMs > 0) await sleep(delayMs);
    switch (outcome) {
      case "rate_limited":
        return finish(ctx, bus, { outcome: "failed", text: RATE_LIMIT_TEXT });
      case "input_required":
        return finish(ctx, bus, { outcome: "input_required", text: INPUT_REQUIRED_TEXT });
      case "ok":
        return finish(ctx, bus, { outcome: "completed", text: this.work(textOf(ctx.userMessage)) });
    }
  };

  /**
   * @param {string} taskId
   * @param {ExecutionEventBus} bus
   */
  cancelTask = (taskId, bus) => {
    // a worker's task runs to its end in one go: there is nothing to stop
    this.log(`${this.name}: cancel of task ${taskId} ignored`);
    bus.finished();
    return Promise.resolve();
  };
}

/** @implements {AgentExecutor} */
export class RouterExecutor {
  /**
   * @param {A2aKafkaClient} client
   * @param {(line: string) => void} log
   */
  constructor(client, log) {
    this.client = client;
    this.log = log;
  }

  /**
   * Asks a worker and waits for its answer
   * @param {string} agent
   * @param {string} text
   * @param {RequestContext} ctx
   * @returns {Promise<Answer>}
   */
  async #ask(agent, text, ctx) {
    const { messageId, answer } = await this.client.request(agent, text, ctx.contextId);
    this.log(`router: task ${ctx.taskId} asked ${agent} (message ${messageId})`);
    const got = await answer;
    this.log(`router: task ${ctx.taskId} got ${got.outcome} from ${agent}`);
    return got;
  }

  /**
   * @param {RequestContext} ctx
   * @param {ExecutionEventBus} bus
   */
  execute = async (ctx, bus) => {
    publishTask(ctx, bus);
    this.log(`router: working on task ${ctx.taskId} (message ${ctx.userMessage.messageId})`);
    const code = await this.#ask("coder", textOf(ctx.userMessage), ctx);
    if (code.outcome !== "completed") return finish(ctx, bus, code);
    const reviewed = await this.#ask("reviewer", code.text, ctx);
    if (reviewed.outcome !== "completed") return finish(ctx, bus, reviewed);
    finish(ctx, bus, { outcome: "completed", text: `${code.text}\n\n${reviewed.text}` });
  };

  /**
   * @param {string} taskId
   * @param {ExecutionEventBus} bus
   */
  cancelTask = (taskId, bus) => {
    this.log(`router: cancel of task ${taskId} ignored`);
    bus.finished();
    return Promise.resolve();
  };
}
