/** A counting semaphore: at most `capacity` holders at once, waiters served in arrival order. */
export class Semaphore {
  #held = 0;
  #closed = false;
  readonly #waiters: (() => void)[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Semaphore capacity must be a whole number of 1 or more, got ${capacity}`,
      );
    }
  }

  get held(): number {
    return this.#held;
  }

  /**
   * Resolves true once held. Once closed it resolves false at once, unless `evenIfClosed`: then it
   * is held anyway (a handler finishing during shutdown must not wait forever)
   */
  async acquire(evenIfClosed = false): Promise<boolean> {
    while (this.#held >= this.capacity && !this.#closed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (this.#closed && !evenIfClosed) return false;
    this.#held++;
    return true;
  }

  release(): void {
    this.#held--;
    this.#waiters.shift()?.();
  }

  /** Wakes every waiter: from now on `acquire` resolves false */
  close(): void {
    this.#closed = true;
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
