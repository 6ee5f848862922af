import assert from "node:assert/strict";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

async function agent(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env: { ...env, NO_COLOR: "1", KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("a bad concurrency setting is a configuration error naming it, as in the observer", async () => {
  const cases: [string, string][] = [["AGENT_CONCURRENCY", "lots"], ["AGENT_MAX_IN_FLIGHT", "-3"]];
  for (const [key, value] of cases) {
    const r = await agent(["researcher"], { [key]: value });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), `error: ${key} must be a whole number above 0, got "${value}"`);
  }
});

Deno.test("a bad KAFKA_PORT is a configuration error of the agent and of submit, naming it", async () => {
  for (const main of ["./main.ts", "./submit_main.ts"]) {
    const args = main === "./main.ts" ? ["researcher"] : ["hello"];
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL(main, import.meta.url).pathname, ...args],
      env: { NO_COLOR: "1", KAFKA_BOOTSTRAP_SERVERS: "", KAFKA_PORT: "nine" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.equal(stderr, 'error: Invalid KAFKA_PORT "nine": expected an integer from 1 to 65534\n');
  }
});
