/**
 * Faults of the broker and of topics, against real brokers: the shared one for a recreated topic,
 * a broker of the test's own (`testing/own_broker.ts`) for restarts and for a broker down at start.
 */

import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope } from "@mat/agents";
import { running, TestBed, waitFor } from "./testing.ts";
import { createApp } from "./http_api.ts";
import { OwnBroker } from "./testing/own_broker.ts";
import type { DiffRecord } from "./record_format.ts";

function recorded(records: DiffRecord[]): string[] {
  return records.flatMap((r) =>
    r.type === "message" || r.type === "message_malformed"
      ? [`${r.topic}:${r.partition}:${r.offset}`]
      : []
  );
}

function heartbeats(n: number, from: number): { value: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    value: encodeEnvelope(createEnvelope({
      type: "HEARTBEAT",
      source: "writer",
      target: "coder",
      conversation_id: "c",
      task_id: `t${from + i}`,
      payload: { n: from + i },
    })),
  }));
}

/** Sends, retrying while the broker comes back (a send may fail while it is away) */
async function sendSurely(bed: TestBed, topic: string, records: { value: string }[]) {
  await waitFor(
    () => bed.kit.send(topic, records).then(() => true, () => false),
    90_000,
    "a send to succeed",
  );
}

Deno.test({
  name: "a broker that restarts mid-run loses nothing and the observer writes nothing twice",
  fn: async () => {
    const broker = await OwnBroker.create();
    broker.start();
    let bed: TestBed | undefined;
    let obs: Awaited<ReturnType<typeof running>> | undefined;
    try {
      bed = await TestBed.create(["coder"], 2, { brokers: [broker.bootstrap] });
      const topic = bed.topic("coder");
      await bed.kit.send(topic, heartbeats(300, 0));
      obs = await running(bed);
      await waitFor(async () => recorded(await bed!.diff()).length >= 300, 60_000, "300 records");
      await bed.kit.send(topic, heartbeats(200, 300));
      // A clean restart while the observer reads
      await broker.stop("SIGTERM");
      await waitFor(() => obs!.observer.health().ok === false, 60_000, "unhealthy while down");
      // The outage is in the history, not a gap in it: the queue is recorded unreadable
      await waitFor(
        async () =>
          (await bed!.diff()).some((r) =>
            r.type === "queue_sample" && r.agent === "coder" && r.status === "ERR"
          ),
        60_000,
        "an ERR sample while the broker is down",
      );
      broker.start();
      await sendSurely(bed, topic, heartbeats(300, 500));
      // And a crash (kill -9) under load
      await broker.stop("SIGKILL");
      broker.start();
      await sendSurely(bed, topic, heartbeats(200, 800));
      const TOTAL = 1000;
      await waitFor(
        async () => recorded(await bed!.diff()).length >= TOTAL,
        120_000,
        `${TOTAL} records`,
      );
      await waitFor(() => obs!.observer.health().ok, 60_000, "healthy again");
      await obs.stop();
      obs = undefined;
      const records = await bed.diff();
      const keys = recorded(records);
      assert.equal(new Set(keys).size, keys.length, "a message was recorded twice");
      assert.equal(keys.length, TOTAL);
      const ids = records.flatMap((r) => r.type === "message" ? [r.task_id] : []);
      assert.equal(new Set(ids).size, TOTAL, "every produced message is there once");
      records.forEach((r, i) => assert.equal(r.seq, i + 1));
    } finally {
      await obs?.stop().catch(() => {});
      await bed?.close().catch(() => {});
      await broker.close();
    }
  },
});

Deno.test({
  name: "a broker down when the observer starts: it stays up, /health is 503, then it catches up",
  fn: async () => {
    const broker = await OwnBroker.create();
    const bed = await TestBed.create([], 1, { brokers: [broker.bootstrap], waitForBroker: false });
    const obs = await running(bed);
    try {
      const app = createApp(obs.observer);
      await waitFor(
        async () => (await app.request("/health")).status === 503,
        30_000,
        "503 while the broker is down",
      );
      const down = await (await app.request("/health")).json();
      assert.equal(down.status, "unhealthy");
      assert.ok(
        down.reasons.some((r: string) => /Kafka/.test(r)),
        `a reason names Kafka: ${JSON.stringify(down.reasons)}`,
      );
      broker.start();
      await bed.waitForBroker();
      await bed.kit.createTopics([bed.topic("coder")], 1);
      await bed.kit.send(bed.topic("coder"), heartbeats(50, 0));
      await waitFor(async () => recorded(await bed.diff()).length >= 50, 120_000, "catching up");
      await waitFor(
        async () => (await app.request("/health")).status === 200,
        60_000,
        "200 once the broker answers",
      );
      assert.equal(recorded(await bed.diff()).length, 50);
    } finally {
      await obs.stop();
      await bed.close();
      await broker.close();
    }
  },
});

Deno.test({
  name: "a topic deleted and recreated yields topic_reset, and nothing after it is lost",
  fn: async () => {
    const bed = await TestBed.create(["coder"], 1);
    const topic = bed.topic("coder");
    const obs = await running(bed);
    try {
      await bed.kit.send(topic, heartbeats(5, 0));
      await waitFor(async () => recorded(await bed.diff()).length >= 5, 30_000, "5 records");
      await bed.kit.deleteTopics([topic]);
      await waitFor(
        () => bed.kit.createTopics([topic], 1).then(() => true, () => false),
        30_000,
        "the topic recreated",
      );
      await waitFor(
        async () => (await bed.diff()).some((r) => r.type === "topic_reset"),
        30_000,
        "topic_reset",
      );
      await bed.kit.send(topic, heartbeats(8, 5));
      await waitFor(async () => recorded(await bed.diff()).length >= 13, 30_000, "13 records");
      const records = await bed.diff();
      const reset = records.find((r) => r.type === "topic_reset");
      assert.equal(reset?.type === "topic_reset" && reset.previous_offset, "4");
      const after = records.filter((r) => r.type === "message" && r.seq > (reset?.seq ?? 0));
      assert.deepEqual(
        after.map((r) => r.type === "message" ? [r.offset, r.task_id] : []),
        Array.from({ length: 8 }, (_, i) => [String(i), `t${5 + i}`]),
      );
      assert.equal(recorded(records).length, 13);
    } finally {
      await obs.stop();
      await bed.close();
    }
  },
});

/** A tmpfs of `size` at a new directory, or the reason one cannot be mounted here (not root) */
async function tmpfs(size: string): Promise<{ dir: string } | { reason: string }> {
  const dir = await Deno.makeTempDir({ prefix: "observer-full-disk-" });
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stdout: "null",
    stderr: "piped",
  }).output().catch((err: unknown) => ({
    success: false,
    stderr: new TextEncoder().encode(String(err)),
  }));
  if (out.success) return { dir };
  await Deno.remove(dir);
  return { reason: new TextDecoder().decode(out.stderr).trim() || "mount failed" };
}

// Mounting a tmpfs needs root: elsewhere the full-disk test is skipped, and says so.
const notRoot = Deno.uid() !== 0;
if (notRoot) console.log("faults_test: skipping the full-disk test: mounting a tmpfs needs root");

Deno.test({
  name: "a full disk makes /health 503, corrupts nothing, and the observer resumes without loss",
  ignore: notRoot,
  fn: async () => {
    const disk = await tmpfs("256k");
    if ("reason" in disk) throw new Error(`Cannot mount a tmpfs as root: ${disk.reason}`);
    const dir = disk.dir;
    const bed = await TestBed.create(["coder"], 1);
    const topic = bed.topic("coder");
    const obs = await running(bed, { TELEMETRY_DATA_DIR: dir });
    /** Every line on disk; with `written`, not the last one while it is still being appended */
    const lines = async (written = false) => {
      const out: string[] = [];
      for await (const entry of Deno.readDir(dir)) {
        if (!entry.name.endsWith(".jsonl")) continue;
        let text = await Deno.readTextFile(`${dir}/${entry.name}`);
        if (written) text = text.slice(0, text.lastIndexOf("\n") + 1);
        out.push(...text.split("\n").filter((l) => l !== ""));
      }
      return out;
    };
    // Read while the observer writes: a line it is appending is not one to parse yet
    const offsets = async () =>
      (await lines(true)).map((l) => JSON.parse(l)).filter((r) => r.type === "message")
        .map((r) => String(r.offset));
    try {
      await bed.kit.send(topic, heartbeats(1_500, 0));
      await waitFor(
        () => obs.observer.health().reasons.some((r) => r.startsWith("Writing the")),
        30_000,
        "the writer to report the full disk",
      );
      const app = createApp(obs.observer);
      assert.equal((await app.request("/health")).status, 503);
      // Every line written before the failure is whole (a writer may be mid-append right now)
      for (const line of await lines(true)) JSON.parse(line);
      const before = (await offsets()).length;
      assert.ok(before < 1_500, `the disk filled when ${before} of 1500 records were written`);

      const grow = await new Deno.Command("mount", {
        args: ["-o", "remount,size=32m", dir],
      }).output();
      assert.ok(grow.success, "the tmpfs grew");
      await waitFor(async () => (await offsets()).length >= 1_500, 60_000, "all 1500 records");
      await waitFor(() => obs.observer.health().ok, 30_000, "health to recover");
      const seen = await offsets();
      assert.equal(seen.length, 1_500, "nothing written twice");
      assert.deepEqual(seen, Array.from({ length: 1_500 }, (_, i) => String(i)));
      const seqs = (await lines(true)).map((l) => JSON.parse(l)).filter((r) =>
        r.type !== "snapshot"
      )
        .map((r) => Number(r.seq)).sort((a, b) => a - b);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), "seq unbroken");
      // Stopped, nothing is being appended: every line on disk is whole, none torn mid-file
      await obs.stop();
      for (const line of await lines()) JSON.parse(line);
    } finally {
      await obs.stop().catch(() => {});
      await bed.close();
      // Lazily: a file the stopped observer's runtime has not closed yet must not fail the test
      await new Deno.Command("umount", { args: ["-l", dir] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
