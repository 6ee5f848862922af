/**
 * The runtime events a process source emitted in a test, each checked against the validator as
 * it would be after a round trip through JSON, and waits on them.
 */

import assert from "node:assert/strict";
import { sleep } from "@mat/agents/support";
import { parseRuntimeEvent, type RuntimeEvent, type RuntimeEventKind } from "../process_event.ts";

export class CollectedEvents {
  readonly events: RuntimeEvent[] = [];
  readonly emit = (e: RuntimeEvent): void => {
    const parsed = parseRuntimeEvent(JSON.parse(JSON.stringify(e)));
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    this.events.push(e);
  };

  kinds(): RuntimeEventKind[] {
    return this.events.map((e) => e.kind);
  }

  find(
    kind: RuntimeEventKind,
    process: string,
    extra: (e: RuntimeEvent) => boolean = () => true,
  ): RuntimeEvent | undefined {
    return this.events.find((e) => e.kind === kind && e.process === process && extra(e));
  }

  /** The first event `test` accepts; throws after `timeoutMs` naming `what` and listing the events */
  async waitFor(
    test: (e: RuntimeEvent) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<RuntimeEvent> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const found = this.events.find(test);
      if (found) return found;
      await sleep(50);
    }
    throw new Error(
      `No ${what} within ${timeoutMs} ms; got:\n` +
        this.events.map((e) => JSON.stringify(e)).join("\n"),
    );
  }

  /** The first `kind` event of `process` that `extra` accepts */
  waitForKind(
    kind: RuntimeEventKind,
    process: string,
    extra: (e: RuntimeEvent) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<RuntimeEvent> {
    return this.waitFor(
      (e) => e.kind === kind && e.process === process && extra(e),
      `"${kind}" event for "${process}"`,
      timeoutMs,
    );
  }
}
