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
    [
      { OBSERVER_TOKEN: "pass word:with spaces" },
      "OBSERVER_TOKEN",
      /the characters a bearer token can carry/,
    ],
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
    // KAFKA_BOOTSTRAP_SERVERS (set by `deno task test`) would win over KAFKA_PORT: emptied here
    env: { KAFKA_BOOTSTRAP_SERVERS: "", KAFKA_PORT: "nope", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 2, stderr);
  assert.match(stderr, /KAFKA_PORT/);
});
