import assert from "node:assert/strict";
import { TaskPool } from "./task_pool.ts";

/** Lets every settled promise run its callbacks */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("a task waiting without its slot lets another task work", async () => {
  const pool = new TaskPool(1, 10);
  assert.equal(await pool.enter(), true);
  let secondIn = false;
  const second = pool.enter().then((ok) => (secondIn = ok));
  await settle();
  assert.equal(secondIn, false, "the only slot is held");
  const reply = Promise.withResolvers<string>();
  const waiting = pool.waitWithoutSlot(reply.promise);
  await second;
  assert.equal(secondIn, true, "the slot was given back while the first task waits");
  assert.equal(pool.working, 1);
  assert.equal(pool.inFlight, 2);
  let resumed = false;
  const first = waiting.then((value) => {
    resumed = true;
    return value;
  });
  reply.resolve("answer");
  await settle();
  assert.equal(resumed, false, "the first task holds a slot again before it goes on");
  pool.leave();
  assert.equal(await first, "answer");
  pool.leave();
  assert.equal(pool.working, 0);
  assert.equal(pool.inFlight, 0);
});

Deno.test("the tasks in flight are capped, waiting or not", async () => {
  const pool = new TaskPool(4, 2);
  await pool.enter();
  await pool.enter();
  const parked = pool.waitWithoutSlot(new Promise<void>(() => {}));
  let thirdIn = false;
  const third = pool.enter().then((ok) => (thirdIn = ok));
  await settle();
  assert.equal(thirdIn, false, "two tasks in flight, one of them waiting: the cap holds");
  pool.leave();
  await third;
  assert.equal(thirdIn, true);
  void parked;
});

Deno.test("a closed pool turns tasks away and holds nothing for them", async () => {
  const pool = new TaskPool(1, 1);
  await pool.enter();
  const turnedAway = pool.enter();
  pool.close();
  assert.equal(await turnedAway, false);
  assert.equal(await pool.enter(), false);
  assert.equal(pool.inFlight, 1);
  const finishing = await pool.waitWithoutSlot(Promise.resolve("done"));
  assert.equal(finishing, "done", "a task finishing during shutdown gets its slot back anyway");
  assert.equal(pool.working, 1);
});
