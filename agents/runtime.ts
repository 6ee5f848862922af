/**
 * The shared Kafka loop that drives every agent: it consumes `<prefix><name>` (the prefix is
 * `KAFKA_TOPIC_PREFIX`, default `agent-queue-`) in group `agent-<name>`, accepts each `TASK` into
 * the pending store and commits past it, hands every record on as it comes, resumes the tasks left
 * unfinished by a restart, and drains on shutdown. It never dies from a malformed record or a
 * handler's exception. It does not start without its queue: `start` asks the broker first and
 * rejects with a `MissingTopicError`, before it touches its stores.
 *
 * The rest of the loop, job by job: `task_pool.ts` (the in-flight cap and the work slots),
 * `record_dispatcher.ts` (what each kind of record gets), `task_answerer.ts` (a task answered
 * once, through the done and pending stores), `task_executor.ts` (a handler against its deadline),
 * `outbox.ts` (sending, with retries), `agent_context.ts` (what a handler works with),
 * `fault_injection.ts` (`AGENT_FAULTS`), `runtime_options.ts` (the knobs).
 */

import { type ContextDeps, createContext } from "./agent_context.ts";
import type { AgentContext, AgentModule, LogLevel } from "./agent_module.ts";
import { DoneStore } from "./done_store.ts";
import { type Envelope, parseEnvelope } from "./protocol/envelope.ts";
import { FaultInjector } from "./fault_injection.ts";
import { FaultPlan } from "./faults.ts";
import type { Bus, IncomingRecord, Subscription } from "./kafka_bus.ts";
import { OffsetTracker } from "./offset_tracker.ts";
import { Outbox } from "./outbox.ts";
import { PendingStore } from "./pending_store.ts";
import { coordinates, RecordDispatcher } from "./record_dispatcher.ts";
import { resolveRuntimeOptions, type RuntimeOptions } from "./runtime_options.ts";
import { sleep } from "./sleep.ts";
import { TaskAnswerer } from "./task_answerer.ts";
import { TaskPool } from "./task_pool.ts";
import { groupFor, topicFor } from "./topics.ts";
import { childSpan, type TraceContext } from "./trace_context.ts";
import { errorText } from "./error_text.ts";

export class AgentRuntime {
  readonly name: string;
  /** The prefix of every queue it reads and sends to */
  readonly prefix: string;
  readonly topic: string;
  readonly group: string;
  readonly #bus: Bus;
  readonly #faults: FaultInjector;
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
  readonly #dispatcher: RecordDispatcher;
  #stopping = false;
  #store: DoneStore | undefined;
  #pending: PendingStore | undefined;
  #answerer: TaskAnswerer | undefined;
  #subscription: Subscription | undefined;

  constructor(readonly module: AgentModule, options: RuntimeOptions) {
    const settings = resolveRuntimeOptions(options, module.concurrency);
    const log: AgentContext["log"] = (level, msg, fields) => this.log(level, msg, fields);
    this.name = module.name;
    this.#emit = settings.log;
    this.prefix = settings.prefix;
    this.topic = topicFor(this.name, settings.prefix);
    this.group = groupFor(this.name, settings.prefix);
    this.#bus = options.bus;
    this.#stateDir = settings.stateDir;
    this.#taskTimeoutMs = settings.taskTimeoutMs;
    this.#concurrency = settings.concurrency;
    this.#sessionTimeoutMs = settings.sessionTimeoutMs;
    this.#graceMs = settings.shutdownGraceMs;
    this.#outbox = new Outbox(options.bus, this.name, settings.prefix, log);
    this.#faults = new FaultInjector(options.faults ?? new FaultPlan([]), this.#outbox, log);
    this.#pool = new TaskPool(this.#concurrency, settings.maxInFlight);
    this.#contextDeps = {
      agent: this.name,
      model: options.model,
      outbox: this.#outbox,
      pool: this.#pool,
      log,
    };
    this.#dispatcher = new RecordDispatcher({
      agent: this.name,
      outbox: this.#outbox,
      running: this.#running,
      answer: (task, trace, where) => this.#answer(task, trace, where),
      onReply: async (reply, trace) => {
        if (this.module.onReply) {
          await this.module.onReply(
            reply,
            this.#context(new AbortController().signal, trace, false),
          );
        }
      },
      log,
    });
  }

  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    this.#emit({ ts: new Date().toISOString(), level, agent: this.name, msg, ...fields });
  }

  async start(): Promise<void> {
    await this.#bus.requireTopics([this.topic]);
    this.#store = await DoneStore.open(`${this.#stateDir}/${this.group}/done.jsonl`);
    this.#pending = await PendingStore.open(`${this.#stateDir}/${this.group}/pending.jsonl`);
    this.#answerer = new TaskAnswerer({
      done: this.#store,
      pending: this.#pending,
      outbox: this.#outbox,
      faults: this.#faults,
      running: this.#running,
      taskTimeoutMs: this.#taskTimeoutMs,
      onTask: (task, signal, trace) => this.module.onTask(task, this.#context(signal, trace, true)),
      log: (level, msg, fields) => this.log(level, msg, fields),
    });
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
          error: errorText(error),
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
      const handler = this.#dispatcher.dispatch(record, parsed)
        .catch((err) => {
          this.log("error", "unexpected failure handling a task", {
            error: err instanceof Error ? err.stack ?? err.message : String(err),
            ...coordinates(record),
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
    const handler = this.#dispatcher.dispatch(record, parsed)
      .catch((err) => {
        this.log("error", "unexpected failure handling a record", {
          error: err instanceof Error ? err.stack ?? err.message : String(err),
          ...coordinates(record),
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
          ...coordinates(record),
        });
      });
    }
  }

  /** Runs a task accepted before a restart and not finished then */
  async #resume(task: Envelope): Promise<void> {
    if (!await this.#pool.enter()) return;
    const handler = this.#answer(task, childSpan(undefined), {})
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

  /** Answers a task (see TaskAnswerer); `where` it was read, unless resumed */
  async #answer(
    task: Envelope,
    trace: TraceContext,
    where: Record<string, unknown>,
  ): Promise<void> {
    await this.#answerer?.answer(task, trace, where);
  }

  /** The context of a handler; `holdsSlot` when it runs a task (and so may give its slot back) */
  #context(signal: AbortSignal, trace: TraceContext, holdsSlot: boolean): AgentContext {
    return createContext(this.#contextDeps, signal, trace, holdsSlot);
  }
}
