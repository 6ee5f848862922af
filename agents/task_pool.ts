/**
 * The two places a task takes while the loop works on it. One among the tasks in flight
 * (`AGENT_MAX_IN_FLIGHT`), held from its acceptance until it is answered: that is what bounds
 * memory, and the only place where reading the queue waits. And a work slot (`AGENT_CONCURRENCY`),
 * held while its handler code runs and given back while it waits on another agent: concurrency
 * bounds work, not conversations waiting.
 */

import { Semaphore } from "./semaphore.ts";

export class TaskPool {
  /** Tasks accepted and not answered yet (running or waiting) */
  readonly #inFlight: Semaphore;
  /** Work slots: a task holds one while it runs, not while it waits in `waitWithoutSlot` */
  readonly #slots: Semaphore;

  constructor(concurrency: number, maxInFlight: number) {
    this.#slots = new Semaphore(concurrency);
    this.#inFlight = new Semaphore(maxInFlight);
  }

  /** Tasks holding a work slot now */
  get working(): number {
    return this.#slots.held;
  }

  /** Tasks accepted and not answered yet */
  get inFlight(): number {
    return this.#inFlight.held;
  }

  /**
   * Takes a place in flight, then a work slot, waiting for each; false once the pool is closed
   * (the task is then turned away, holding nothing)
   */
  async enter(): Promise<boolean> {
    if (!await this.#inFlight.acquire()) return false;
    if (!await this.#slots.acquire()) {
      this.#inFlight.release();
      return false;
    }
    return true;
  }

  /** Gives back what `enter` took: the task is answered */
  leave(): void {
    this.#slots.release();
    this.#inFlight.release();
  }

  /**
   * Waits for `promise` with the work slot given back, and holds one again before returning, even
   * once the pool is closed (a handler finishing during shutdown must not wait forever)
   */
  async waitWithoutSlot<T>(promise: Promise<T>): Promise<T> {
    this.#slots.release();
    try {
      return await promise;
    } finally {
      await this.#slots.acquire(true);
    }
  }

  /** From now on `enter` turns tasks away, and the tasks waiting to enter are turned away too */
  close(): void {
    this.#slots.close();
    this.#inFlight.close();
  }
}
