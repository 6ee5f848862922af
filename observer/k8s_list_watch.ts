/**
 * One list-then-watch loop per resource, after client-go's reflector and client-node's informer
 * (`cache.ts`), over one watch request at a time (`k8s_watch_stream.ts`):
 * - It lists, then watches from the list's resourceVersion; each event and each bookmark
 *   (`allowWatchBookmarks`) moves that version on, so a reconnect replays what happened meanwhile.
 * - 410 Gone (as the HTTP status or as an in-stream ERROR event) means that version is too old:
 *   it lists again, and hands the list over as a relist for the caller to diff against what it
 *   knew (client-node's informer stops there instead).
 * - A failed request or a dropped connection is retried with exponential backoff (0.5 s doubling
 *   to 30 s, reset on success); the caller hears of each failure and of the recovery.
 * - One object that does not narrow is skipped and logged, never fatal.
 */

import type { ApiConnection } from "./k8s_api_connection.ts";
import { GoneError, HttpStatusError } from "./k8s_api_errors.ts";
import type { Narrowed } from "./k8s_json.ts";
import { narrowList } from "./k8s_objects.ts";
import { openWatch } from "./k8s_watch_stream.ts";
import type { LogFn } from "./process_source.ts";
import { backoffMs, errorText, sleep } from "@mat/agents/support";

/** What a list-watch watches, and what it does with what it sees */
export interface Resource<T> {
  /** "pod" or "event", for messages */
  what: string;
  path: string;
  query: Record<string, string>;
  narrow(value: unknown): Narrowed<T>;
  resourceVersionOf(item: T): string;
  /** A whole list: the first one (`relist` false) or one after a 410 */
  onList(items: T[], relist: boolean): void;
  onChange(type: "ADDED" | "MODIFIED" | "DELETED", item: T): void;
}

export interface ListWatchTimings {
  /** First reconnect delay, doubling per failure up to maxBackoffMs; default 500 ms and 30 s */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** The server ends each watch after this long and it is reopened; default 240-300 s */
  watchTimeoutSeconds?: number;
}

/** What the loop tells its caller about the connection */
export interface LoopReport {
  /** A list or watch failed (`reason`); the loop retries after a backoff */
  failed(reason: string): void;
  /** A list or watch succeeded (after a failure or not) */
  recovered(): void;
  log: LogFn;
}

export class ListWatch<T> {
  /** Where the next watch resumes from; undefined: list first */
  resourceVersion: string | undefined;
  /** Whether a list has been handed over yet */
  listed = false;
  #watch: AbortController | undefined;

  constructor(readonly resource: Resource<T>, readonly timings: ListWatchTimings = {}) {}

  /** Ends the current watch so the loop reconnects (from `resourceVersion`) without an error */
  reconnect(): void {
    this.#watch?.abort(new Error("Reconnect requested"));
  }

  /** Lists and watches until `signal` aborts; never throws */
  async run(api: ApiConnection, signal: AbortSignal, report: LoopReport): Promise<void> {
    const first = this.timings.backoffMs ?? 500;
    const max = this.timings.maxBackoffMs ?? 30_000;
    let attempt = 0;
    const loop = `${this.resource.what}s`;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined) {
          await this.#list(api, signal);
          report.recovered();
          attempt = 0;
        }
        const timeout = this.timings.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 60);
        const began = Date.now();
        await this.#watchOnce(api, signal, timeout, () => {
          report.recovered();
          attempt = 0;
        }, (error) => report.log("warn", "k8s source skipped an object", { loop, error }));
        // A watch the server ends at once, again and again, must not spin.
        if (Date.now() - began < 1000) await sleep(first, signal);
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof GoneError) {
          report.log("info", "k8s source relists", { loop, reason: error.message });
          this.resourceVersion = undefined;
          continue;
        }
        report.failed(errorText(error));
        await sleep(backoffMs(attempt++, first, max), signal);
      }
    }
  }

  async #list(api: ApiConnection, signal: AbortSignal): Promise<void> {
    const { what, path, query } = this.resource;
    const response = await api.get(path, query, signal);
    if (response.status !== 200) {
      throw new HttpStatusError(response.status, `Listing ${what}s`, await response.text());
    }
    const narrowed = narrowList(await response.json(), (v) => this.resource.narrow(v));
    if (!narrowed.ok) throw new Error(`Listing ${what}s: ${narrowed.error}`);
    const relist = this.listed;
    this.listed = true;
    this.resourceVersion = narrowed.value.resourceVersion;
    this.resource.onList(narrowed.value.items, relist);
  }

  /** One watch request; resolves when the server ends it, rejects on errors and 410 */
  async #watchOnce(
    api: ApiConnection,
    signal: AbortSignal,
    timeoutSeconds: number,
    onConnected: () => void,
    onSkipped: (error: string) => void,
  ): Promise<void> {
    const { what, path, query } = this.resource;
    // The watch ends on a stop (`signal`) or on a reconnect (`controller`). Not AbortSignal.any:
    // Deno holds the signal it makes only weakly (denoland/deno#29075); once collected, a stop
    // would no longer reach the watch.
    const controller = new AbortController();
    const stop = () => controller.abort(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    this.#watch = controller;
    try {
      const events = await openWatch(api, {
        what,
        path,
        query,
        resourceVersion: this.resourceVersion,
        timeoutSeconds,
      }, controller.signal);
      onConnected();
      for await (const event of events) {
        if (!event.ok) {
          onSkipped(event.error);
          continue;
        }
        const e = event.value;
        if (e.type === "BOOKMARK") {
          this.resourceVersion = e.resourceVersion;
        } else if (e.type === "ERROR") {
          if (e.code === 410) throw new GoneError(`Watching ${what}s`, e.message);
          throw new Error(
            `Watching ${what}s got an error event ${e.code} ${e.reason}: ${e.message}`,
          );
        } else {
          const item = this.resource.narrow(e.object);
          if (!item.ok) {
            onSkipped(item.error);
            continue;
          }
          this.resourceVersion = this.resource.resourceVersionOf(item.value);
          this.resource.onChange(e.type, item.value);
        }
      }
    } catch (error) {
      // A reconnect asked for (not a stop) ends the watch quietly.
      if (controller.signal.aborted && !signal.aborted) return;
      throw error;
    } finally {
      signal.removeEventListener("abort", stop);
      this.#watch = undefined;
    }
  }
}
