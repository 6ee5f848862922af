import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope } from "@mat/agents";
import { TestBed, waitFor } from "./testing.ts";
import type { DiffRecord } from "./record_format.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

function spawnObserver(bed: TestBed): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN],
    env: bed.env({ OBSERVER_PORT: "0" }),
    stdout: "null",
    stderr: "null",
  }).spawn();
}

function recorded(records: DiffRecord[]): string[] {
  return records.flatMap((r) =>
    r.type === "message" || r.type === "message_malformed"
      ? [`${r.topic}:${r.partition}:${r.offset}`]
      : []
  );
}

function batch(n: number, from: number): { key: string; value: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    if (k % 97 === 0) return { key: `k${k}`, value: `not json ${k}` };
    return {
      key: `k${k}`,
      value: encodeEnvelope(createEnvelope({
        type: "HEARTBEAT",
        source: "writer",
        target: "coder",
        conversation_id: `c${k % 7}`,
        task_id: `t${k}`,
        payload: { n: k },
      })),
    };
  });
}

Deno.test({
  name: "every produced message appears exactly once in the diff file across a kill -9 under load",
  fn: async () => {
    const bed = await TestBed.create(["coder", "writer"], 3);
    const children: Deno.ChildProcess[] = [];
    try {
      const TOTAL = 4000;
      let sent = 0;
      const produce = async (until: number) => {
        while (sent < until) {
          const n = Math.min(200, until - sent);
          await bed.kit.send(bed.topic(sent % 400 < 200 ? "coder" : "writer"), batch(n, sent));
          sent += n;
        }
      };
      await produce(1000);
      const first = spawnObserver(bed);
      children.push(first);
      // Kill it while it is writing: once some, but not all, messages are on disk.
      await waitFor(
        async () => recorded(await bed.diff().catch(() => [])).length > 300,
        30_000,
        "first records",
      );
      const producing = produce(2500);
      first.kill("SIGKILL");
      await first.status;
      await producing;
      const second = spawnObserver(bed);
      children.push(second);
      await produce(TOTAL);
      await waitFor(
        async () => recorded(await bed.diff()).length >= TOTAL,
        40_000,
        `${TOTAL} records`,
      );
      second.kill("SIGTERM");
      await second.status;
      const keys = recorded(await bed.diff());
      assert.equal(new Set(keys).size, keys.length, "a message was recorded twice");
      assert.equal(keys.length, TOTAL);
      const records = await bed.diff();
      const malformed = records.filter((r) => r.type === "message_malformed");
      assert.equal(malformed.length, Math.ceil(TOTAL / 97));
      // seq only grows, by one, across the crash
      records.forEach((r, i) => assert.equal(r.seq, i + 1));
    } finally {
      for (const c of children) {
        try {
          c.kill("SIGKILL");
        } catch { /* already gone */ }
        await c.status;
      }
      await bed.close();
    }
  },
});
