import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig } from "./config.ts";

const env = (vars: Record<string, string>) => ({ get: (key: string) => vars[key] });

Deno.test("the observer's brokers: KAFKA_BOOTSTRAP_SERVERS, else the local broker's KAFKA_PORT", () => {
  assert.deepEqual(loadConfig(env({ KAFKA_BOOTSTRAP_SERVERS: "a:1, b:2" })).brokers, [
    "a:1",
    "b:2",
  ]);
  assert.deepEqual(loadConfig(env({ KAFKA_PORT: "19092" })).brokers, ["127.0.0.1:19092"]);
  assert.deepEqual(loadConfig(env({})).brokers, ["127.0.0.1:9092"]);
});

Deno.test("a bad setting is a ConfigError naming the variable and its value", () => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ KAFKA_PORT: "90x" }, "KAFKA_PORT", /Invalid KAFKA_PORT "90x"/],
    [{ KAFKA_BOOTSTRAP_SERVERS: "nohost" }, "KAFKA_BOOTSTRAP_SERVERS", /host:port/],
    [{ OBSERVER_TOKEN: "short" }, "OBSERVER_TOKEN", /at least 8 characters/],
  ];
  for (const [vars, variable, message] of cases) {
    assert.throws(
      () => loadConfig(env(vars)),
      (err) => err instanceof ConfigError && err.variable === variable && message.test(err.message),
      JSON.stringify(vars),
    );
  }
});

Deno.test("the observer exits 2 with one error line on a bad KAFKA_PORT", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fileURLToPath(new URL("./main.ts", import.meta.url))],
    // Nothing inherited: a KAFKA_BOOTSTRAP_SERVERS of the caller's would outrank KAFKA_PORT
    clearEnv: true,
    env: {
      KAFKA_PORT: "nope",
      NO_COLOR: "1",
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR") ?? "" } : {}),
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 2, stderr);
  assert.match(stderr, /KAFKA_PORT/);
});
