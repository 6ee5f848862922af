import assert from "node:assert/strict";
import { Semaphore } from "./semaphore.ts";

Deno.test("a semaphore holds at most its capacity and serves waiters in order", async () => {
  const s = new Semaphore(2);
  assert.equal(await s.acquire(), true);
  assert.equal(await s.acquire(), true);
  const order: number[] = [];
  const third = s.acquire().then(() => order.push(3));
  const fourth = s.acquire().then(() => order.push(4));
  await Promise.resolve();
  assert.equal(s.held, 2);
  s.release();
  await third;
  s.release();
  await fourth;
  assert.deepEqual(order, [3, 4]);
  assert.equal(s.held, 2);
});

Deno.test("a closed semaphore turns waiters away, unless they must finish", async () => {
  const s = new Semaphore(1);
  await s.acquire();
  const waiting = s.acquire();
  s.close();
  assert.equal(await waiting, false);
  assert.equal(await s.acquire(), false);
  assert.equal(await s.acquire(true), true, "held anyway");
  assert.throws(() => new Semaphore(0), RangeError);
});
