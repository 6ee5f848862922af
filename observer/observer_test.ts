import assert from "node:assert/strict";
import { createEnvelope, encodeEnvelope, groupFor, replyTo } from "@mat/agents";
import { running, TestBed, waitFor } from "./testing.ts";
import { createApp } from "./http_api.ts";
import { K8sSource } from "./k8s_source.ts";
import {
  type DiffRecord,
  type SnapshotRecord,
  STATE_FILE_BASE,
  validateSnapshot,
} from "./record_format.ts";
import { readHistory } from "./time_machine_reader.ts";

function ofType<T extends DiffRecord["type"]>(records: DiffRecord[], type: T) {
  return records.filter((r): r is Extract<DiffRecord, { type: T }> => r.type === type);
}

interface ServerSentEvent {
  id: number | undefined;
  event: string;
  data: string;
}

/** Reads the events of a server-sent event stream as they come */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #text = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /**
   * The events read until one `matches`, that one last. Throws when the stream ends first, or
   * when none came within `timeoutMs` (a guard against a hang, not a timing being tested)
   */
  async until(
    matches: (e: ServerSentEvent) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<ServerSentEvent[]> {
    const seen: ServerSentEvent[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let end: number;
      while ((end = this.#text.indexOf("\n\n")) >= 0) {
        const block = this.#text.slice(0, end);
        this.#text = this.#text.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(": ");
          if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 2));
        }
        if (!fields.has("data")) continue;
        const id = fields.get("id");
        const event = {
          id: id === undefined ? undefined : Number(id),
          event: fields.get("event") ?? "message",
          data: fields.get("data") ?? "",
        };
        seen.push(event);
        if (matches(event)) return seen;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Timed out waiting for ${what}`)),
          Math.max(0, deadline - Date.now()),
        );
      });
      const { value, done } = await Promise.race([this.#reader.read(), timeout]).finally(() =>
        clearTimeout(timer)
      );
      if (done) throw new Error(`The event stream ended before ${what}`);
      this.#text += value;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}

Deno.test({
  name: "each kind of malformed record yields a malformed event with its reason and coordinates",
  fn: async () => {
    const bed = await TestBed.create(["coder"], 1);
    const obs = await running(bed);
    try {
      const valid = createEnvelope({
        type: "TASK",
        source: "orchestrator",
        target: "coder",
        conversation_id: "c1",
        task_id: "t1",
      });
      const kinds: [string | Uint8Array | null, RegExp][] = [
        ["{not json", /not JSON/],
        [new Uint8Array([0xff, 0xfe, 0x00]), /not valid UTF-8/],
        [null, /tombstone/],
        ["", /empty/],
        ["[1,2]", /must be a JSON object/],
        [JSON.stringify({ ...valid, type: "SHOUT" }), /"type" must be one of/],
        [JSON.stringify({ ...valid, source: "Bad Agent" }), /"source" must be an agent name/],
        [JSON.stringify({ ...valid, type: "RESULT" }), /"in_reply_to" is required/],
        [JSON.stringify({ ...valid, schema_version: 99 }), /newer than/],
      ];
      await bed.kit.send(bed.topic("coder"), kinds.map(([value]) => ({ value })));
      await waitFor(
        async () => ofType(await bed.diff(), "message_malformed").length >= kinds.length,
        20_000,
        "malformed events",
      );
      const malformed = ofType(await bed.diff(), "message_malformed");
      assert.equal(malformed.length, kinds.length);
      kinds.forEach(([, reason], i) => {
        const m = malformed[i];
        assert.ok(m !== undefined);
        assert.match(m.reason, reason);
        assert.equal(m.topic, bed.topic("coder"));
        assert.equal(m.offset, String(i));
        assert.equal(m.agent, "coder");
      });
      await waitFor(
        () =>
          [...obs.observer.recorder.state.errors.values()]
            .filter((e) => e.kind === "malformed_record")
            .reduce((sum, e) => sum + e.count, 0) === kinds.length,
        10_000,
        "folded malformed error",
      );
    } finally {
      await obs.stop();
      await bed.close();
    }
  },
});

Deno.test({
  name: "secrets in payloads never reach the files",
  fn: async () => {
    const bed = await TestBed.create(["coder"], 1);
    const obs = await running(bed);
    const secrets = [
      "sk-abcdefghijklmnopqrstuvwxyz123456",
      "hunter2-very-secret",
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
      "AKIAIOSFODNN7EXAMPLE",
      "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ];
    try {
      const env = createEnvelope({
        type: "TASK",
        source: "orchestrator",
        target: "coder",
        conversation_id: "c1",
        task_id: "t1",
        payload: {
          request: `use key ${secrets[0]} please`,
          password: secrets[1],
          nested: { headers: { Authorization: `Bearer ${secrets[2]}` } },
          note: `aws ${secrets[3]} and ${secrets[4]}`,
        },
      });
      await bed.kit.send(bed.topic("coder"), [
        { value: encodeEnvelope(env) },
        { value: `garbage password=${secrets[1]} token: ${secrets[0]}` },
      ]);
      await waitFor(
        async () => (await bed.diff()).some((r) => r.type === "message_malformed"),
        20_000,
        "records",
      );
      await obs.observer.snapshot();
    } finally {
      await obs.stop();
    }
    try {
      for await (const entry of Deno.readDir(bed.dataDir)) {
        const text = await Deno.readTextFile(`${bed.dataDir}/${entry.name}`);
        for (const s of secrets) assert.ok(!text.includes(s), `${entry.name} holds a secret`);
      }
      const message = ofType(await bed.diff(), "message")[0];
      assert.ok(message !== undefined && message.redactions >= 4);
      assert.match(message.payload_preview, /\[REDACTED\]/);
    } finally {
      await bed.close();
    }
  },
});

Deno.test({
  name: "a task left unanswered yields a stuck-handoff event, an answered one a completed handoff",
  fn: async () => {
    const bed = await TestBed.create(["researcher", "orchestrator"], 1);
    const obs = await running(bed);
    try {
      const answered = createEnvelope({
        type: "TASK",
        source: "orchestrator",
        target: "researcher",
        conversation_id: "c1",
        task_id: "t1",
        deadline: new Date(Date.now() + 60_000),
      });
      const dropped = createEnvelope({
        type: "TASK",
        source: "orchestrator",
        target: "researcher",
        conversation_id: "c2",
        task_id: "t2",
        deadline: new Date(Date.now() + 1_000),
      });
      await bed.kit.send(bed.topic("researcher"), [
        { value: encodeEnvelope(answered) },
        { value: encodeEnvelope(dropped) },
      ]);
      const result = replyTo(answered, "RESULT", {
        payload: { answer: "42" },
        usage: { model: "m1", input_tokens: 10, output_tokens: 5, cost_usd: 0.01, latency_ms: 30 },
      });
      const orphan = {
        ...replyTo(dropped, "ERROR", {}),
        in_reply_to: "never-seen",
        error: { kind: "llm_error" as const, message: "boom", retryable: false },
      };
      await bed.kit.send(bed.topic("orchestrator"), [{ value: encodeEnvelope(result) }, {
        value: encodeEnvelope(orphan),
      }]);
      await waitFor(
        async () => {
          const records = await bed.diff();
          return ofType(records, "handoff_stuck").length > 0 &&
            ofType(records, "handoff_completed").length > 0 &&
            ofType(records, "reply_orphaned").length > 0;
        },
        20_000,
        "stuck, completed and orphaned",
      );
      const records = await bed.diff();
      const stuck = ofType(records, "handoff_stuck");
      assert.equal(stuck.length, 1);
      assert.equal(stuck[0]?.task_message_id, dropped.message_id);
      assert.equal(stuck[0]?.reason, "deadline_passed");
      const completed = ofType(records, "handoff_completed");
      assert.equal(completed.length, 1);
      assert.equal(completed[0]?.task_message_id, answered.message_id);
      assert.equal(ofType(records, "reply_orphaned")[0]?.in_reply_to, "never-seen");
      const usage = obs.observer.recorder.state.toData().usage;
      assert.deepEqual(usage.map((u) => [u.agent, u.model, u.calls, u.input_tokens]), [[
        "researcher",
        "m1",
        1,
        10,
      ]]);
    } finally {
      await obs.stop();
      await bed.close();
    }
  },
});

Deno.test({
  name: "a consumer group that stops committing moves to STOP, with a status-change event",
  fn: async () => {
    const bed = await TestBed.create(["writer"], 1);
    const group = groupFor("writer", bed.prefix);
    const obs = await running(bed);
    try {
      const values = Array.from({ length: 10 }, (_, i) => ({
        value: encodeEnvelope(createEnvelope({
          type: "HEARTBEAT",
          source: "writer",
          target: "writer",
          conversation_id: "c",
          task_id: `t${i}`,
        })),
      }));
      await bed.kit.send(bed.topic("writer"), values);
      await bed.kit.setGroupOffsets(group, bed.topic("writer"), [{
        topic: bed.topic("writer"),
        partition: 0,
        offset: "3",
      }]);
      // (Under load a STALL may be seen first: the group goes on to STOP as the window fills.
      // Before the group committed, the queue was read by no group: a STOP of its own.)
      const stopped = (r: DiffRecord) =>
        r.type === "queue_status_changed" && r.to === "STOP" && r.group === group;
      await waitFor(async () => (await bed.diff()).some(stopped), 30_000, "STOP");
      const change = ofType(await bed.diff(), "queue_status_changed").find(stopped);
      assert.equal(change?.group_source, "broker-offsets", "found by its committed offsets");
      const sample = ofType(await bed.diff(), "queue_sample").at(-1);
      assert.equal(sample?.group, group);
      assert.equal(sample?.lag, 7);
      assert.deepEqual(sample?.partitions.map((p) => [p.high, p.committed]), [["10", "3"]]);
    } finally {
      await obs.stop();
      await bed.kit.deleteGroups([group]);
      await bed.close();
    }
  },
});

Deno.test({
  name: "the HTTP API answers through app.request() and over a real socket, with a bearer token",
  fn: async () => {
    const bed = await TestBed.create(["coder"], 1);
    const token = "s3cret-token-for-tests";
    const obs = await running(bed, { OBSERVER_TOKEN: token });
    const app = createApp(obs.observer);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
    // Cancelled whatever happens: the server's shutdown waits for every open stream
    const readers: EventReader[] = [];
    try {
      const auth = { authorization: `Bearer ${token}` };
      await bed.kit.send(bed.topic("coder"), [{ value: "nope" }]);
      await waitFor(
        async () => {
          const res = await app.request("/events?since=0", { headers: auth });
          const body = await res.json();
          return body.events.some((e: { type: string }) => e.type === "message_malformed");
        },
        20_000,
        "events",
      );
      await waitFor(async () => (await app.request("/health")).status === 200, 20_000, "healthy");
      // Without the token, with a wrong one, with a header that is no bearer token
      const missing = await app.request("/state");
      assert.equal(missing.status, 401);
      assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="observer"');
      assert.deepEqual(await missing.json(), { error: "Missing bearer token" });
      const wrong = await app.request("/state", {
        headers: { authorization: "Bearer wrong-token" },
      });
      assert.equal(wrong.status, 401);
      assert.match(wrong.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
      assert.deepEqual(await wrong.json(), { error: "Wrong bearer token" });
      const basic = await app.request("/state", { headers: { authorization: `Basic ${token}` } });
      assert.equal(basic.status, 400);
      assert.match(basic.headers.get("www-authenticate") ?? "", /error="invalid_request"/);
      await basic.body?.cancel();
      const streamDenied = await app.request("/events/stream?since=0");
      assert.equal(streamDenied.status, 401);
      await streamDenied.body?.cancel();
      const state = await (await app.request("/state", { headers: auth })).json();
      assert.equal(state.malformed_seen, 1);
      const errors = await (await app.request("/errors?category=validation", { headers: auth }))
        .json();
      assert.equal(errors.errors[0].kind, "malformed_record");
      // The first poll asks the broker which groups read the queue before it samples it
      const queuesOf = async () => (await app.request("/queues", { headers: auth })).json();
      await waitFor(async () => (await queuesOf()).queues.length > 0, 20_000, "a queue sampled");
      const queues = await queuesOf();
      assert.equal(queues.queues[0].agent, "coder");
      assert.equal((await app.request("/events?since=x", { headers: auth })).status, 400);
      // over a real socket
      const base = `http://127.0.0.1:${server.addr.port}`;
      const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
      assert.match(metrics, /^observer_malformed_total 1$/m);
      assert.match(metrics, /^observer_messages_seen_total 1$/m);
      // No group reads the queue: its one series, group ""
      assert.match(metrics, /^observer_queue_lag\{agent="coder",group="",status="[A-Z]+"\} 1$/m);
      assert.match(metrics, /^observer_consumer_groups \d+$/m);
      const health = await fetch(`${base}/health`);
      assert.deepEqual(await health.json(), { status: "ok" });
      // The event stream replays from a seq...
      const stream = await fetch(`${base}/events/stream?since=0`, { headers: auth });
      assert.equal(stream.headers.get("content-type"), "text/event-stream");
      const events = new EventReader(stream.body!);
      readers.push(events);
      const replay = await events.until((e) => e.event === "message_malformed", "the replay");
      assert.equal(replay[0]?.id, 1, "the replay starts after the seq asked for");
      assert.deepEqual(
        replay.map((e) => e.id),
        replay.map((_, i) => i + 1),
        "the replay has every seq, in order",
      );
      const replayedId = replay.at(-1)?.id ?? 0;
      // ...then follows: a record recorded after the replay comes through the same stream
      const durableBefore = obs.observer.diff.durableSeq;
      await bed.kit.send(bed.topic("coder"), [{ value: "nope, again" }]);
      const followed = await events.until(
        (e) => e.event === "message_malformed" && JSON.parse(e.data).offset === "1",
        "the record written after the replay",
      );
      const second = followed.at(-1);
      assert.ok(second?.id !== undefined && second.id > durableBefore, "recorded after the replay");
      assert.deepEqual(
        [replayedId, ...followed.map((e) => e.id)],
        Array.from({ length: followed.length + 1 }, (_, i) => replayedId + i),
        "nothing skipped between the replay and what follows",
      );
      // A client reconnecting with Last-Event-ID resumes right after it
      const resumed = await fetch(`${base}/events/stream`, {
        headers: { ...auth, "last-event-id": String(replayedId) },
      });
      const again = new EventReader(resumed.body!);
      readers.push(again);
      const first = await again.until((e) => e.id !== undefined, "the first resumed event");
      assert.equal(first.at(-1)?.id, replayedId + 1);
    } finally {
      for (const reader of readers) await reader.cancel();
      await server.shutdown();
      await obs.stop();
      await bed.close();
    }
  },
});

Deno.test({
  name:
    "an event stream client too slow for a flood is ended with where to resume, and loses nothing",
  fn: async () => {
    const bed = await TestBed.create(["coder"], 1);
    const obs = await running(bed);
    const app = createApp(obs.observer);
    try {
      const res = await app.request("/events/stream?since=0");
      const body = res.body;
      assert.ok(body !== null);
      // The client reads nothing while 20,000 records (some 10 MB of events) flow
      const n = 20_000;
      for (let i = 0; i < n; i += 1_000) {
        await bed.kit.send(
          bed.topic("coder"),
          Array.from({ length: 1_000 }, (_, k) => ({
            value: encodeEnvelope(createEnvelope({
              type: "HEARTBEAT",
              source: "writer",
              target: "coder",
              conversation_id: "c",
              task_id: `t${i + k}`,
              payload: { text: "x".repeat(300) },
            })),
          })),
        );
      }
      await waitFor(() => obs.observer.recorder.state.messagesSeen >= n, 60_000, "the flood");
      // Read what was buffered for it: it ends, under 6 MB, with an overflow event
      const reader = body.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (text.length < 6 * 1024 * 1024) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      await reader.cancel();
      assert.ok(text.length < 6 * 1024 * 1024, `over ${text.length} bytes were buffered`);
      const overflow = /event: overflow\ndata: (\{.*\})\n\n$/.exec(text);
      assert.ok(overflow?.[1] !== undefined, "the stream ends with an overflow event");
      const resume = Number(JSON.parse(overflow[1]).resume_since);
      const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => i + 1), "no gap");
      assert.equal(ids.at(-1), resume);
      // Resuming from there gives the next record
      const next = await (await app.request(`/events?since=${resume}&limit=1`)).json();
      assert.equal(next.events[0]?.seq, resume + 1);
    } finally {
      await obs.stop();
      await bed.close();
    }
  },
});

Deno.test({
  name:
    "a process source that cannot start is a source error and a health reason, not the end of the observer",
  fn: async () => {
    const bed = await TestBed.create(["coder"], 1);
    const obs = await running(bed, {}, (observer) => {
      observer.processSource = new K8sSource({
        kubeconfigPath: "/nonexistent/kubeconfig",
        namespace: "telemetry",
        labelSelector: "app=x",
        metricsIntervalMs: 0,
      });
    });
    try {
      await waitFor(
        async () =>
          ofType(await bed.diff(), "runtime_event").some((r) =>
            r.kind === "source_error" && r.reason === "StartFailed"
          ),
        20_000,
        "the source error",
      );
      assert.ok(
        obs.observer.health().reasons.some((r) => r.startsWith("The runtime source cannot start")),
      );
      // The queues are still watched
      await bed.kit.send(bed.topic("coder"), [{ value: "not an envelope" }]);
      await waitFor(
        async () => ofType(await bed.diff(), "message_malformed").length === 1,
        20_000,
        "the record",
      );
    } finally {
      await obs.stop();
      await bed.close();
    }
  },
});

Deno.test({
  name: "the observer records the options it folds with when it starts and in every snapshot",
  fn: async () => {
    const bed = await TestBed.create(["coder"], 1);
    const pattern = `^${bed.prefix}(?<agent>[a-z]+)$`;
    const obs = await running(bed, {
      STUCK_AFTER_MS: "45000",
      ORPHAN_GRACE_MS: "2000",
      KAFKA_TOPIC_PATTERN: pattern,
      OBSERVER_USER_INBOX: "desk",
    });
    const expected = {
      topic_prefix: bed.prefix,
      topic_pattern: pattern,
      user_inbox: "desk",
      queue_window: 3,
      stuck_after_ms: 45_000,
      orphan_grace_ms: 2_000,
    };
    try {
      await waitFor(async () => (await snapshots(bed.dataDir)).length >= 2, 20_000, "snapshots");
      const started = ofType(await bed.diff(), "observer_started");
      assert.deepEqual(started.map((r) => r.fold_options), [expected]);
      for (const s of await snapshots(bed.dataDir)) assert.deepEqual(s.fold_options, expected);
    } finally {
      await obs.stop();
      await bed.close();
    }
  },
});

/** Every snapshot of the state history, validated */
async function snapshots(dir: string): Promise<SnapshotRecord[]> {
  const out: SnapshotRecord[] = [];
  for await (const v of readHistory(dir, STATE_FILE_BASE)) {
    const parsed = validateSnapshot(v);
    if (!parsed.ok) throw new TypeError(`Invalid snapshot: ${parsed.reason}`);
    out.push(parsed.record);
  }
  return out;
}
