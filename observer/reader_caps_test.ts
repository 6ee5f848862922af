import assert from "node:assert/strict";
import { createApp } from "./http_api.ts";
import { KafkaAdapter } from "./kafka_adapter.ts";
import { loadConfig } from "./config.ts";
import { Observer } from "./observer.ts";

async function openObserver(extra: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "observer-caps-" });
  const env: Record<string, string> = {
    TELEMETRY_DATA_DIR: dir,
    KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1",
    ...extra,
  };
  const config = loadConfig({ get: (k) => env[k] });
  const kafka = new KafkaAdapter({ brokers: config.brokers, clientId: "caps", log: "nothing" });
  const observer = await Observer.open(config, kafka);
  return {
    observer,
    async close() {
      await observer.stop();
      await kafka.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("past OBSERVER_MAX_STREAMS an event stream is refused with 429 and Retry-After, and a closed one frees its place", async () => {
  const { observer, close } = await openObserver({ OBSERVER_MAX_STREAMS: "3" });
  const app = createApp(observer, () => {});
  const open: Response[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const res = await app.request("/events/stream?since=0");
      assert.equal(res.status, 200);
      open.push(res);
    }
    const refused = await app.request("/events/stream?since=0");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.match(
      (await refused.json()).error,
      /Too many event streams at once \(3, OBSERVER_MAX_STREAMS\)/,
    );
    // A client that goes away frees its place
    await open.shift()?.body?.cancel();
    let again: Response | undefined;
    for (let i = 0; i < 50 && again?.status !== 200; i++) {
      await again?.body?.cancel();
      await new Promise((r) => setTimeout(r, 20));
      again = await app.request("/events/stream?since=0");
    }
    assert.equal(again?.status, 200, "a place again once a stream closed");
    if (again) open.push(again);
  } finally {
    for (const res of open) await res.body?.cancel();
    await close();
  }
});

Deno.test("past OBSERVER_MAX_HISTORY_READS a history read is refused with 429, and the rest are served", async () => {
  const { observer, close } = await openObserver({ OBSERVER_MAX_HISTORY_READS: "2" });
  const app = createApp(observer, () => {});
  try {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => app.request("/events?since=0")),
    );
    const statuses = answers.map((r) => r.status);
    for (const r of answers) await r.body?.cancel();
    // The six arrive together: two are read, four are told to come back
    assert.deepEqual([...statuses].sort(), [200, 200, 429, 429, 429, 429], String(statuses));
    // One at a time, every read is served
    for (let i = 0; i < 4; i++) {
      const res = await app.request("/events?since=0");
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
  } finally {
    await close();
  }
});
