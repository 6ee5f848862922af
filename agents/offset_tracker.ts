/**
 * Records of one partition may finish out of order when handled concurrently. The offset safe to
 * commit is the lowest one still in flight (or one past the highest finished): committing it never
 * skips a record that has not finished.
 */
export class OffsetTracker {
  readonly #inFlight = new Map<string, Set<bigint>>();
  readonly #next = new Map<string, bigint>();
  readonly #highest = new Map<string, bigint>();

  static #key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  /** A record of this partition was taken up */
  begin(topic: string, partition: number, offset: string): void {
    const key = OffsetTracker.#key(topic, partition);
    let set = this.#inFlight.get(key);
    if (set === undefined) this.#inFlight.set(key, set = new Set());
    set.add(BigInt(offset));
  }

  /**
   * A record finished. Returns the offset that can now be committed for its partition, or
   * undefined when the commit point did not move.
   */
  finish(topic: string, partition: number, offset: string): string | undefined {
    const key = OffsetTracker.#key(topic, partition);
    const set = this.#inFlight.get(key);
    const done = BigInt(offset);
    set?.delete(done);
    const highest = this.#highest.get(key);
    if (highest === undefined || done > highest) this.#highest.set(key, done);
    const before = this.#next.get(key);
    const next = set !== undefined && set.size > 0
      ? [...set].reduce((a, b) => (b < a ? b : a))
      : (this.#highest.get(key) ?? done) + 1n;
    if (before !== undefined && next <= before) return undefined;
    this.#next.set(key, next);
    return next.toString();
  }

  /** Records taken up and not finished, over all partitions */
  get inFlight(): number {
    let n = 0;
    for (const s of this.#inFlight.values()) n += s.size;
    return n;
  }
}
