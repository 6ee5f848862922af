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

Deno.test("OBSERVER_GROUPS declares groups per agent, several joined by +", () => {
  const config = loadConfig(env({
    OBSERVER_GROUPS: " summarizer = a2a-summarizer , search=a2a-search+ search-audit",
  }));
  assert.deepEqual(
    config.declaredGroups,
    new Map([["summarizer", ["a2a-summarizer"]], ["search", ["a2a-search", "search-audit"]]]),
  );
  assert.deepEqual(loadConfig(env({})).declaredGroups, new Map());
  assert.deepEqual(loadConfig(env({ OBSERVER_GROUPS: "  " })).declaredGroups, new Map());
  assert.equal(loadConfig(env({})).groupRefreshMs, 10_000);
});

Deno.test("a bad OBSERVER_GROUPS is a ConfigError saying what is wrong with which entry", () => {
  const cases: [string, string][] = [
    ["summarizer", 'OBSERVER_GROUPS must list agent=group pairs, got "summarizer"'],
    [
      "sum/marizer=a2a",
      'OBSERVER_GROUPS must name agents (letters, digits, ._-), got "sum/marizer"',
    ],
    ["=a2a", 'OBSERVER_GROUPS must name agents (letters, digits, ._-), got ""'],
    ["search=", 'OBSERVER_GROUPS gives agent "search" an empty group, got "search="'],
    ["search=a+", 'OBSERVER_GROUPS gives agent "search" an empty group, got "search=a+"'],
    ["search=a,,b=c", 'OBSERVER_GROUPS has an empty entry, got "search=a,,b=c"'],
    ["search=a b", 'OBSERVER_GROUPS group names cannot hold blanks, got "a b"'],
    ["search=a,search=b", 'OBSERVER_GROUPS names agent "search" twice'],
    ["search=a+a", 'OBSERVER_GROUPS names group "a" twice for agent "search"'],
    [
      "user=submitters",
      'OBSERVER_GROUPS cannot declare groups of the user inbox "user": it is not sampled',
    ],
    [
      "search=telemetry-observer",
      `OBSERVER_GROUPS names the observer's own group "telemetry-observer" (OBSERVER_GROUP)`,
    ],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => loadConfig(env({ OBSERVER_GROUPS: value })),
      (err) =>
        err instanceof ConfigError && err.variable === "OBSERVER_GROUPS" &&
        err.value === value && err.message === message,
      value,
    );
  }
  assert.throws(
    () => loadConfig(env({ OBSERVER_GROUP_REFRESH_MS: "50" })),
    (err) =>
      err instanceof ConfigError &&
      err.message === 'OBSERVER_GROUP_REFRESH_MS must be an integer from 100 to 3600000, got "50"',
  );
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
