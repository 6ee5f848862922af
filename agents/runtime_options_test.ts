import assert from "node:assert/strict";
import { DEFAULT_MAX_IN_FLIGHT, resolveRuntimeOptions } from "./runtime_options.ts";

function env(vars: Record<string, string>): { get(key: string): string | undefined } {
  return { get: (key) => vars[key] };
}

Deno.test("runtime knobs come from the caller, else the environment, else their defaults", () => {
  const log = () => {};
  const fromEnv = resolveRuntimeOptions(
    { log },
    undefined,
    env({
      KAFKA_TOPIC_PREFIX: "t1-agent-queue-",
      AGENTS_STATE_DIR: "/tmp/state",
      AGENT_TASK_TIMEOUT_MS: "5000",
      AGENT_CONCURRENCY: "8",
      AGENT_MAX_IN_FLIGHT: "100",
      AGENT_SESSION_TIMEOUT_MS: "7000",
      AGENT_SHUTDOWN_GRACE_MS: "3000",
    }),
  );
  assert.deepEqual(fromEnv, {
    prefix: "t1-agent-queue-",
    stateDir: "/tmp/state",
    taskTimeoutMs: 5000,
    concurrency: 8,
    maxInFlight: 100,
    sessionTimeoutMs: 7000,
    shutdownGraceMs: 3000,
    log,
  });
  const defaults = resolveRuntimeOptions({ log }, undefined, env({}));
  assert.deepEqual(defaults, {
    prefix: "agent-queue-",
    stateDir: "./.agents",
    taskTimeoutMs: 60_000,
    concurrency: 4,
    maxInFlight: DEFAULT_MAX_IN_FLIGHT,
    sessionTimeoutMs: 10_000,
    shutdownGraceMs: 10_000,
    log,
  });
  const given = resolveRuntimeOptions(
    { concurrency: 2, maxInFlight: 3, prefix: "p-" },
    64,
    env({ AGENT_CONCURRENCY: "8" }),
  );
  assert.equal(given.concurrency, 2);
  assert.equal(given.maxInFlight, 3);
  assert.equal(given.prefix, "p-");
});

Deno.test("an agent's own concurrency comes before AGENT_CONCURRENCY", () => {
  const settings = resolveRuntimeOptions({}, 64, env({ AGENT_CONCURRENCY: "8" }));
  assert.equal(settings.concurrency, 64);
});

Deno.test("a runtime knob in the environment that is no whole number above 0 is a RangeError", () => {
  for (const value of ["0", "-3", "1.5", "many"]) {
    assert.throws(
      () => resolveRuntimeOptions({}, undefined, env({ AGENT_CONCURRENCY: value })),
      (err: unknown) =>
        err instanceof RangeError &&
        err.message === `AGENT_CONCURRENCY must be a whole number above 0, got "${value}"`,
    );
  }
});
