/**
 * The shared Kafka loop that drives every agent: it consumes `agent-queue-<name>` in group
 * `agent-<name>`, dispatches by message type, replies to the sender's queue, enforces deadlines,
 * limits concurrency, answers a redelivered task from its done store instead of running it twice,
 * and never dies from a malformed record or a handler's exception.
 */

import { type ContextDeps, createContext } from "./agent_context.ts";
import { AgentError } from "./agent_error.ts";
import type { AgentContext, AgentModule, LogLevel, TaskOutcome } from "./agent_module.ts";
import { DoneStore } from "./done_store.ts";
import { type Envelope, parseEnvelope, replyTo } from "./envelope.ts";
import { FaultPlan, holdMemory } from "./faults.ts";
import type { Bus, IncomingRecord, Subscription } from "./kafka_bus.ts";
import { malformedTaskReply } from "./malformed_reply.ts";
import { OffsetTracker } from "./offset_tracker.ts";
import { Outbox } from "./outbox.ts";
import { PendingStore } from "./pending_store.ts";
import { resolveRuntimeOptions, type RuntimeOptions } from "./runtime_options.ts";
import { sleep } from "./sleep.ts";
import { TaskPool } from "./task_pool.ts";
import { groupFor, SENDER_HEADER, topicFor } from "./topics.ts";
import {
  childSpan,
  parseTraceparent,
  type TraceContext,
  TRACEPARENT_HEADER,
} from "./trace_context.ts";

export class AgentRuntime {
  readonly name: string;
  readonly topic: string;
  readonly group: string;
  readonly #bus: Bus;
  readonly #faults: FaultPlan;
  readonly #prefix: string;
  readonly #stateDir: string;
  readonly #taskTimeoutMs: number;
  readonly #concurrency: number;
  readonly #sessionTimeoutMs: number;
  readonly #graceMs: number;
  readonly #emit: (line: Record<string, unknown>) => void;
  readonly #tracker = new OffsetTracker();
  readonly #running = new Map<string, AbortController>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #pool: TaskPool;
  readonly #outbox: Outbox;
  readonly #contextDeps: ContextDeps;
  #stopping = false;
  #store: DoneStore | undefined;
  #pending: PendingStore | undefined;
  #subscription: Subscription | undefined;

  constructor(readonly module: AgentModule, options: RuntimeOptions) {
    const settings = resolveRuntimeOptions(options, module.concurrency);
    this.name = module.name;
    this.#prefix = settings.prefix;
    this.topic = topicFor(this.name, this.#prefix);
    this.group = groupFor(this.name, this.#prefix);
    this.#bus = options.bus;
    this.#faults = options.faults ?? new FaultPlan([]);
    this.#stateDir = settings.stateDir;
    this.#taskTimeoutMs = settings.taskTimeoutMs;
    this.#concurrency = settings.concurrency;
    this.#outbox = new Outbox(
      options.bus,
      this.name,
      this.#prefix,
      (level, msg, fields) => this.log(level, msg, fields),
    );
    this.#pool = new TaskPool(this.#concurrency, settings.maxInFlight);
    this.#contextDeps = {
      agent: this.name,
      model: options.model,
      outbox: this.#outbox,
      pool: this.#pool,
      log: (level, msg, fields) => this.log(level, msg, fields),
    };
    this.#sessionTimeoutMs = settings.sessionTimeoutMs;
    this.#graceMs = settings.shutdownGraceMs;
    this.#emit = settings.log;
  }

  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    this.#emit({ ts: new Date().toISOString(), level, agent: this.name, msg, ...fields });
  }

  async start(): Promise<void> {
    this.#store = await DoneStore.open(`${this.#stateDir}/${this.group}/done.jsonl`);
    this.#pending = await PendingStore.open(`${this.#stateDir}/${this.group}/pending.jsonl`);
    const resumed = this.#pending.unfinished();
    for (const task of resumed) void this.#resume(task);
    if (resumed.length > 0) {
      this.log("info", "resuming the tasks accepted before the restart", { tasks: resumed.length });
    }
    this.#subscription = await this.#bus.consume({
      groupId: this.group,
      topics: [this.topic],
      fromBeginning: true,
      sessionTimeoutMs: this.#sessionTimeoutMs,
      onRecord: (record) => this.#onRecord(record),
      onCrash: (error, attempt) => {
        this.log("warn", "consumer crashed for good; creating it again", {
          error: error instanceof Error ? error.message : String(error),
          attempt,
        });
      },
    });
    this.log("info", "agent started", {
      topic: this.topic,
      group: this.group,
      concurrency: this.#concurrency,
      faults: !this.#faults.empty,
    });
  }

  /** Stops taking records, lets tasks in flight finish (then aborts them), commits, disconnects */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#outbox.stopping();
    this.#pool.close();
    this.log("info", "agent stopping", { in_flight: this.#handlers.size });
    const drained = Promise.all([...this.#handlers]);
    const timer = sleep(this.#graceMs).then(() => "timeout" as const);
    if (await Promise.race([drained.then(() => "done" as const), timer]) === "timeout") {
      for (const c of this.#running.values()) c.abort(new Error("agent shutting down"));
      await Promise.race([drained, sleep(2_000)]);
    }
    await this.#subscription?.stop().catch((err) => {
      this.log("warn", "consumer did not stop cleanly", { error: String(err) });
    });
    this.#store?.close();
    this.#pending?.close();
    this.log("info", "agent stopped");
  }

  /**
   * Every record is dispatched as it comes. A `RESULT`, `ERROR`, `CANCEL` or `HEARTBEAT` (and a
   * record that is no envelope) is handled at once, never behind the task pool: a reply some task
   * of this agent waits for must never queue behind tasks that hold the slots. A `TASK` waits for a
   * place among the tasks in flight (AGENT_MAX_IN_FLIGHT: only there does fetching pause) and for
   * a work slot (AGENT_CONCURRENCY), which it gives back while it waits in `ctx.wait`.
   */
  async #onRecord(record: IncomingRecord): Promise<void> {
    const parsed = parseEnvelope(record.value);
    const isTask = parsed.ok && parsed.envelope.type === "TASK" &&
      parsed.envelope.target === this.name;
    if (isTask && parsed.ok) {
      // Not committed when turned away: read again after a restart
      if (!await this.#pool.enter()) return;
      const task = parsed.envelope;
      const known = this.#pending?.has(task.message_id) === true ||
        this.#running.has(task.message_id);
      // Accepted durably first: then its offset is committed at once, whatever the task waits for
      if (!known && this.#store?.get(task.message_id) === undefined) {
        await this.#pending?.accept(
          task,
          new TextDecoder().decode(record.value ?? new Uint8Array()),
        );
      }
      this.#tracker.begin(record.topic, record.partition, record.offset);
      await this.#commitPast(record);
      if (known) {
        // Delivered again while it runs, or resumed from the pending store: nothing more to do
        this.#pool.leave();
        return;
      }
      const handler = this.#handle(record, parsed)
        .catch((err) => {
          this.log("error", "unexpected failure handling a task", {
            error: err instanceof Error ? err.stack ?? err.message : String(err),
            ...this.#coordinates(record),
          });
        })
        .finally(() => {
          this.#pool.leave();
          this.#handlers.delete(handler);
        });
      this.#handlers.add(handler);
      return;
    }
    this.#tracker.begin(record.topic, record.partition, record.offset);
    const handler = this.#handle(record, parsed)
      .catch((err) => {
        this.log("error", "unexpected failure handling a record", {
          error: err instanceof Error ? err.stack ?? err.message : String(err),
          ...this.#coordinates(record),
        });
      })
      .then(() => this.#commitPast(record))
      .finally(() => this.#handlers.delete(handler));
    this.#handlers.add(handler);
  }

  /** Marks a record finished and commits past it when every record before it is finished too */
  async #commitPast(record: IncomingRecord): Promise<void> {
    const next = this.#tracker.finish(record.topic, record.partition, record.offset);
    if (next !== undefined && this.#subscription !== undefined) {
      await this.#subscription.commit(record.topic, record.partition, next).catch((err) => {
        this.log("warn", "offset commit failed; the record may be delivered again", {
          error: String(err),
          ...this.#coordinates(record),
        });
      });
    }
  }

  /** Runs a task accepted before a restart and not finished then */
  async #resume(task: Envelope): Promise<void> {
    if (!await this.#pool.enter()) return;
    const handler = this.#handleTask(task, childSpan(undefined), undefined)
      .catch((err) => {
        this.log("error", "unexpected failure resuming a task", {
          error: err instanceof Error ? err.stack ?? err.message : String(err),
          task_id: task.task_id,
        });
      })
      .finally(() => {
        this.#pool.leave();
        this.#handlers.delete(handler);
      });
    this.#handlers.add(handler);
  }

  #coordinates(record: IncomingRecord): Record<string, unknown> {
    return { topic: record.topic, partition: record.partition, offset: record.offset };
  }

  async #handle(record: IncomingRecord, parsed: ReturnType<typeof parseEnvelope>): Promise<void> {
    if (!parsed.ok) {
      this.log("warn", "rejected malformed record", {
        reason: parsed.reason,
        ...this.#coordinates(record),
      });
      await this.#answerMalformed(parsed.json, parsed.reason);
      return;
    }
    const env = parsed.envelope;
    const trace = childSpan(parseTraceparent(record.headers[TRACEPARENT_HEADER]));
    if (env.target !== this.name) {
      const reason = `target "${env.target}" is not this agent "${this.name}"`;
      this.log("warn", "rejected misaddressed message", { reason, message_id: env.message_id });
      if (env.type === "TASK") {
        await this.#outbox.send([
          this.#outbox.address(
            replyTo(env, "ERROR", {
              error: { kind: "unknown_agent", message: reason, retryable: false },
            }),
            trace,
          ),
        ]);
      }
      return;
    }
    switch (env.type) {
      case "TASK":
        return await this.#handleTask(env, trace, record);
      case "RESULT":
      case "ERROR":
        if (this.module.onReply) {
          await this.module.onReply(env, this.#context(new AbortController().signal, trace, false));
        }
        return;
      case "CANCEL": {
        const running = [...this.#running.entries()].find(([id]) => id === env.in_reply_to);
        running?.[1].abort(
          new AgentError("cancelled", "task cancelled by sender", {
            retryable: false,
          }),
        );
        this.log("info", "cancel received", { task_id: env.task_id, found: running !== undefined });
        return;
      }
      case "HEARTBEAT":
        return;
    }
  }

  /** A malformed `TASK` whose sender can be read still gets an `ERROR`, so it does not hang */
  async #answerMalformed(json: unknown, reason: string): Promise<void> {
    const error = malformedTaskReply(json, reason, this.name);
    if (error === undefined) return;
    if (await this.#outbox.hasQueue(error.target).catch(() => false)) {
      await this.#outbox.send([this.#outbox.address(error, childSpan(undefined))]);
    }
  }

  /** The context of a handler; `holdsSlot` when it runs a task (and so may give its slot back) */
  #context(signal: AbortSignal, trace: TraceContext, holdsSlot = true): AgentContext {
    return createContext(this.#contextDeps, signal, trace, holdsSlot);
  }

  async #handleTask(
    task: Envelope,
    trace: TraceContext,
    record: IncomingRecord | undefined,
  ): Promise<void> {
    const stored = this.#store?.get(task.message_id);
    if (stored !== undefined) {
      this.log("info", "task delivered again; resending its stored reply, not executing", {
        message_id: task.message_id,
        task_id: task.task_id,
        ...(record ? this.#coordinates(record) : {}),
      });
      await this.#outbox.send(stored);
      await this.#pending?.finish(task.message_id);
      return;
    }
    if (this.#running.has(task.message_id)) {
      this.log("info", "task already running; duplicate delivery ignored", {
        message_id: task.message_id,
      });
      return;
    }
    const deadline = task.deadline !== undefined
      ? Date.parse(task.deadline)
      : Date.parse(task.created_at) + this.#taskTimeoutMs;
    const payloadText = JSON.stringify(task.payload);
    const controller = new AbortController();
    this.#running.set(task.message_id, controller);
    let reply: Envelope;
    try {
      reply = await this.#execute(task, deadline, payloadText, controller, trace);
    } finally {
      this.#running.delete(task.message_id);
    }
    const replies = [this.#outbox.address(reply, trace)];
    await this.#store?.put(task.message_id, replies);
    if (this.#faults.take("malformed", payloadText)) {
      this.log("warn", "fault: sending a malformed record", { task_id: task.task_id });
      await this.#outbox.send([{
        topic: this.#outbox.queueOf(task.source),
        key: task.conversation_id,
        value: `{"type":"RESULT","task_id":"${task.task_id}",`,
        headers: { [SENDER_HEADER]: this.name },
      }]);
    }
    if (this.#faults.take("drop", payloadText)) {
      this.log("warn", "fault: dropping the reply", { task_id: task.task_id });
      await this.#pending?.finish(task.message_id);
      return;
    }
    await this.#outbox.send(replies);
    this.log("info", "task answered", {
      task_id: task.task_id,
      type: reply.type,
      attempt: task.attempt,
      ...(reply.error ? { error_kind: reply.error.kind } : {}),
    });
    if (this.#faults.take("crash", payloadText, "after_reply")) {
      this.log("warn", "fault: crashing after the reply, before the task is marked finished");
      Deno.kill(Deno.pid, "SIGKILL");
    }
    // Finished only once sent: a crash before this resumes it, and the done store resends the
    // reply (the same message, which receivers know by its id) rather than running it again
    await this.#pending?.finish(task.message_id);
  }

  async #execute(
    task: Envelope,
    deadline: number,
    payloadText: string,
    controller: AbortController,
    trace: TraceContext,
  ): Promise<Envelope> {
    const fail = (kind: AgentError["kind"], message: string, retryable: boolean) =>
      replyTo(task, "ERROR", { error: { kind, message, retryable } });
    const remaining = deadline - Date.now();
    if (Number.isNaN(deadline) || remaining <= 0) {
      return fail("deadline_exceeded", `deadline ${task.deadline ?? ""} passed before start`, true);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), remaining);
    });
    const work = (async (): Promise<TaskOutcome> => {
      await this.#injectFaults(task, payloadText, controller.signal);
      return await this.module.onTask(task, this.#context(controller.signal, trace));
    })();
    try {
      const outcome = await Promise.race([work, expired]);
      if (outcome === "expired") {
        controller.abort(
          new AgentError("deadline_exceeded", "deadline passed", { retryable: true }),
        );
        work.catch(() => {});
        return fail(
          "deadline_exceeded",
          `task ran past its deadline of ${new Date(deadline).toISOString()}`,
          true,
        );
      }
      return replyTo(task, "RESULT", {
        payload: outcome.payload,
        ...(outcome.usage ? { usage: outcome.usage } : {}),
      });
    } catch (err) {
      if (err instanceof AgentError) return fail(err.kind, err.message, err.retryable);
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      this.log("error", "handler threw", { task_id: task.task_id, error: message });
      // A TypeError is a bug: retrying the same task will not help. Anything else might.
      return fail("handler_error", message, !(err instanceof TypeError));
    } finally {
      clearTimeout(timer);
    }
  }

  async #injectFaults(task: Envelope, payloadText: string, signal: AbortSignal): Promise<void> {
    if (this.#faults.empty) return;
    if (this.#faults.take("crash", payloadText, "mid_task")) {
      this.log("warn", "fault: crashing mid-task", { task_id: task.task_id });
      await sleep(50);
      Deno.kill(Deno.pid, "SIGKILL");
    }
    const memory = this.#faults.take("memory", payloadText);
    if (memory) {
      this.log("warn", "fault: holding memory", { task_id: task.task_id, mb: memory.mb });
      await holdMemory(memory.mb);
    }
    const slow = this.#faults.take("slow", payloadText);
    if (slow) {
      this.log("warn", "fault: slowing down", { task_id: task.task_id, ms: slow.ms });
      await sleep(slow.ms);
    }
    if (this.#faults.take("hang", payloadText)) {
      this.log("warn", "fault: hanging", { task_id: task.task_id });
      await new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason))
      );
    }
    const error = this.#faults.take("error", payloadText);
    if (error) {
      const message = error.errorKind === "llm_rate_limit"
        ? "LLM rate limit exceeded (HTTP 429): retry after 2s (injected fault)"
        : `injected fault: ${error.errorKind}`;
      throw new AgentError(error.errorKind, message, { retryable: true });
    }
  }
}
