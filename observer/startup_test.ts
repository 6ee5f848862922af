/**
 * What the observer says when it cannot start, run as the real process: one `error:` line and
 * exit 2, no stack trace, nothing written; and what its API tells a client when a request fails
 * inside (only "internal error" and an id: the rest is in the log, under the id).
 */

import assert from "node:assert/strict";
import { createApp } from "./http_api.ts";
import { KafkaAdapter } from "./kafka_adapter.ts";
import { loadConfig } from "./config.ts";
import { Observer } from "./observer.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

async function observe(env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN],
    // No broker is needed: it must stop before it would use one
    env: { KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1", ...env },
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("a port in use ends the observer with one line and exit 2, before it writes anything", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir({ prefix: "observer-port-" });
  try {
    const { port } = taken.addr as Deno.NetAddr;
    const r = await observe({ OBSERVER_PORT: String(port), TELEMETRY_DATA_DIR: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      `error: cannot listen on 127.0.0.1:${port} (OBSERVER_HOST, OBSERVER_PORT): the port is in use\n`,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "the data directory untouched");
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a data directory it cannot write ends the observer with one line and exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "observer-dir-" });
  try {
    // A file where the directory should be (root may write anywhere: a permission is no test)
    await Deno.writeTextFile(`${dir}/file`, "");
    const r = await observe({ OBSERVER_PORT: "0", TELEMETRY_DATA_DIR: `${dir}/file/history` });
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("{"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? "",
      new RegExp(
        `^error: cannot write the time machine in "${dir}/file/history" \\(TELEMETRY_DATA_DIR\\): `,
      ),
    );
    assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/, "no stack trace");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a request that fails inside answers only 'internal error' and an id, the cause in the log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "observer-500-" });
  const env: Record<string, string> = {
    TELEMETRY_DATA_DIR: dir,
    KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1",
  };
  const config = loadConfig({ get: (k) => env[k] });
  const kafka = new KafkaAdapter({ brokers: config.brokers, clientId: "api-500", log: "nothing" });
  const observer = await Observer.open(config, kafka);
  try {
    const logged: Record<string, unknown>[] = [];
    const app = createApp(observer, (_level, msg, fields) => logged.push({ msg, ...fields }));
    app.get("/boom", () => {
      throw new Error(`cannot read ${dir}/diff_time_machine.jsonl: disk on fire`);
    });
    const res = await app.request("/boom");
    assert.equal(res.status, 500);
    const body = await res.json();
    assert.deepEqual(Object.keys(body).sort(), ["error", "id"]);
    assert.equal(body.error, "internal error");
    assert.doesNotMatch(JSON.stringify(body), /disk on fire|diff_time_machine/);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]?.["id"], body.id, "the log holds the cause under the id");
    assert.match(String(logged[0]?.["error"]), /disk on fire/);
  } finally {
    await observer.stop();
    await kafka.close();
    await Deno.remove(dir, { recursive: true });
  }
});
