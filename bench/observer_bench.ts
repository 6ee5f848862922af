/**
 * `deno task bench observer [--messages N]`: figures, not a test (needs the broker:
 * `deno task kafka start`).
 *
 * The shape of a real backlog: N TASK envelopes (default 1,000,000) from the orchestrator to a
 * researcher queue of 4 partitions that nobody reads, each with a 10 s deadline, so the observer
 * also meets every rule a flood trips (handoffs opened, unconsumed tasks, stuck handoffs).
 *
 * 1. Baselines: a bare kafkajs consumer that only counts reads the backlog (rate from its first
 *    record to its last), and one that also decodes and JSON-parses every value (the least any
 *    reader of the messages does).
 * 2. The observer, `deno task observe` as a process of its own, catches up on the same backlog:
 *    its rate (from `/metrics`, first record to last), its resident memory read from
 *    `/proc/<pid>/status` (idle, sampled every 100 ms, and the kernel's high-water mark VmHWM),
 *    then, after it stopped: diff lines and bytes per message, the largest snapshot, the bytes of
 *    both histories.
 *
 * Exit codes: 0 done, 1 the observer failed, 2 usage error.
 */

import { parseArgs } from "node:util";
import { bootstrapServers, createEnvelope, encodeEnvelope, topicFor } from "@mat/agents";
import { KafkaAdapter } from "../observer/kafka_adapter.ts";
import { fileChunks, splitLines } from "@mat/agents/lines";
import { listSegments } from "@mat/observer/segments";
import { errorText, isRecord, sleep } from "@mat/agents/support";

const MiB = 2 ** 20;
const REPO = new URL("..", import.meta.url).pathname;

function parse(argv: string[]): { messages: number } {
  const { values } = parseArgs({ args: argv, options: { messages: { type: "string" } } });
  const messages = Number(values.messages ?? "1000000");
  if (!Number.isSafeInteger(messages) || messages < 10_000) {
    throw new RangeError(`--messages must be an integer >= 10000, got "${values.messages}"`);
  }
  return { messages };
}

function tasks(n: number, from: number): { value: string }[] {
  const deadline = new Date(Date.now() + 10_000);
  return Array.from({ length: n }, (_, i) => ({
    value: encodeEnvelope(createEnvelope({
      type: "TASK",
      source: "orchestrator",
      target: "researcher",
      conversation_id: `bench-conv-${from + i}`,
      task_id: `bench-task-${from + i}`,
      deadline,
      payload: { instruction: "x".repeat(160), n: from + i },
    })),
  }));
}

/**
 * The same tasks as A2A v1.0 Messages in CloudEvents binary mode (the shape the A2A Python SDK and
 * the CloudEvents SDK's Kafka binding write: ProtoJSON value, `ce_*` headers), for the dialect run
 */
function a2aTasks(n: number, from: number): { value: string; headers: Record<string, string> }[] {
  const time = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({
    value: JSON.stringify({
      messageId: `bench-msg-${from + i}`,
      contextId: `bench-conv-${from + i}`,
      taskId: `bench-task-${from + i}`,
      role: "ROLE_USER",
      parts: [{ text: "x".repeat(160) }],
    }),
    headers: {
      ce_specversion: "1.0",
      ce_type: "a2a.message",
      ce_source: "orchestrator",
      ce_id: `bench-ce-${from + i}`,
      ce_time: time,
    },
  }));
}

/** Resident and peak resident memory of a process, from the kernel, in bytes */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number } | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
    return { rss: kb("VmRSS") * 1024, hwm: kb("VmHWM") * 1024 };
  } catch {
    return undefined; // the process is gone
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `observer_messages_seen_total` from the observer's /metrics, or undefined while it is not up */
async function messagesSeen(port: number): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    const text = await res.text();
    const m = /^observer_messages_seen_total (\d+)$/m.exec(text);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

interface ObserverRun {
  child: Deno.ChildProcess;
  port: number;
  dir: string;
}

/** The arguments `deno task observe` runs deno with (its heap limit included), from deno.json */
async function observeArgs(): Promise<string[]> {
  const config: unknown = JSON.parse(await Deno.readTextFile(`${REPO}deno.json`));
  const tasks = isRecord(config) ? config.tasks : undefined;
  const task = isRecord(tasks) ? tasks.observe : undefined;
  if (typeof task !== "string" || !task.startsWith("deno ")) {
    throw new TypeError(
      `deno.json has no "observe" task running deno, got ${JSON.stringify(task)}`,
    );
  }
  return task.split(/\s+/).slice(1).map((a) => a.endsWith(".ts") ? `${REPO}${a}` : a);
}

async function startObserver(
  prefix: string,
  name: string,
  env: Record<string, string> = {},
): Promise<ObserverRun> {
  const dir = await Deno.makeTempDir({ prefix: `observer-bench-${name}-` });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: await observeArgs(),
    env: {
      KAFKA_BOOTSTRAP_SERVERS: bootstrapServers().join(","),
      KAFKA_TOPIC_PREFIX: prefix,
      TELEMETRY_DATA_DIR: dir,
      OBSERVER_GROUP: `${prefix}${name}`,
      OBSERVER_PORT: String(port),
      RUNTIME_SOURCE: "none",
      // Everything kept, so that the lines and bytes per message are counted on disk
      OBSERVER_RETAIN_BYTES: String(2 ** 40),
      ...env,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  while ((await messagesSeen(port)) === undefined) {
    await sleep(100);
  }
  return { child, port, dir };
}

async function stopObserver(run: ObserverRun): Promise<number> {
  run.child.kill("SIGTERM");
  return (await run.child.status).code;
}

/** Lines, bytes and the longest line of a history's files */
async function historyFigures(dir: string, base: string) {
  let lines = 0;
  let bytes = 0;
  let longest = 0;
  for (const segment of await listSegments(dir, base)) {
    using file = await Deno.open(segment.path);
    bytes += (await file.stat()).size;
    const chunks = fileChunks(file, { size: 1 << 20 });
    for await (const split of splitLines(chunks, { unterminated: "torn" })) {
      if (split.kind !== "lines") continue;
      lines += split.count;
      for (let i = 0; i < split.count; i++) {
        // With its newline
        longest = Math.max(longest, (split.ends[i] ?? 0) - (split.starts[i] ?? 0) + 1);
      }
    }
  }
  return { lines, bytes, longest };
}

/** Reads the backlog in a group of its own, `each` on every value; records per second */
async function bareConsumer(
  kit: KafkaAdapter,
  topic: string,
  groupId: string,
  n: number,
  each: (value: Uint8Array) => void,
): Promise<number> {
  let counted = 0;
  let firstAt = 0;
  const done = Promise.withResolvers<void>();
  const feed = await kit.feed({
    groupId,
    topics: [topic],
    start: [0, 1, 2, 3].map((partition) => ({ topic, partition, offset: "0" })),
    onBatch: (records) => {
      if (firstAt === 0) firstAt = performance.now();
      for (const r of records) if (r.value !== null) each(r.value);
      counted += records.length;
      if (counted >= n) done.resolve();
      return Promise.resolve();
    },
  });
  await done.promise;
  const rate = n / ((performance.now() - firstAt) / 1000);
  await feed.stop();
  return rate;
}

interface CatchUp {
  seen: number;
  rate: number;
  code: number;
  peakSampled: number;
  hwm: number;
  diff: { lines: number; bytes: number; longest: number };
  state: { lines: number; bytes: number; longest: number };
}

/** The observer, a process of its own, catching up on a backlog of n messages */
async function catchUp(
  prefix: string,
  name: string,
  n: number,
  dirs: string[],
  env: Record<string, string> = {},
): Promise<CatchUp> {
  const run = await startObserver(prefix, name, env);
  dirs.push(run.dir);
  let peakSampled = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const m = await memoryOf(run.child.pid);
      if (m !== undefined) peakSampled = Math.max(peakSampled, m.rss);
      await sleep(100);
    }
  })();
  let started = 0;
  let seen = 0;
  const deadline = Date.now() + 30 * 60_000;
  while (seen < n && Date.now() < deadline) {
    seen = (await messagesSeen(run.port)) ?? seen;
    if (started === 0 && seen > 0) started = performance.now();
    if (seen < n) await sleep(50);
  }
  const observerRate = seen / ((performance.now() - started) / 1000);
  // Past the tasks' deadlines, a stuck check and a snapshot or two
  await sleep(12_000);
  const hwm = (await memoryOf(run.child.pid))?.hwm ?? NaN;
  sampling = false;
  await sampler;
  const code = await stopObserver(run);
  const diff = await historyFigures(run.dir, "diff_time_machine");
  const state = await historyFigures(run.dir, "state_time_machine");
  return { seen, rate: observerRate, code, peakSampled, hwm, diff, state };
}

function figures(c: CatchUp, bareRate: number, parseRate: number) {
  return {
    observed: c.seen,
    observer_exit_code: c.code,
    observer_msgs_per_s: Math.round(c.rate),
    ingest_ratio: Number((c.rate / bareRate).toFixed(2)),
    ingest_ratio_to_parsing_consumer: Number((c.rate / parseRate).toFixed(2)),
    observer_rss_mib: {
      peak_sampled: Math.round(c.peakSampled / MiB),
      peak_kernel_vmhwm: Math.round(c.hwm / MiB),
    },
    diff_lines_per_message: Number((c.diff.lines / c.seen).toFixed(3)),
    diff_bytes_per_message: Math.round(c.diff.bytes / c.seen),
    diff_mib: Number((c.diff.bytes / MiB).toFixed(1)),
    state_mib: Number((c.state.bytes / MiB).toFixed(1)),
    state_lines: c.state.lines,
    largest_snapshot_kib: Math.round(c.state.longest / 1024),
  };
}

async function main(argv: string[]): Promise<number> {
  let n: number;
  try {
    n = parse(argv).messages;
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 2;
  }
  const prefix = `b${crypto.randomUUID().slice(0, 8)}-agent-queue-`;
  const topic = topicFor("researcher", prefix);
  const topics = [topic];
  const kit = new KafkaAdapter({ brokers: bootstrapServers(), clientId: "bench", log: "error" });
  const dirs: string[] = [];
  try {
    // Idle: an observer with no agent queue to read
    const idle = await startObserver(`b${crypto.randomUUID().slice(0, 8)}-none-`, "idle");
    dirs.push(idle.dir);
    await sleep(3_000);
    const idleRss = (await memoryOf(idle.child.pid))?.rss ?? NaN;
    await stopObserver(idle);

    await kit.createTopics([topic], 4);
    console.error(`bench observer: producing ${n} TASK envelopes to ${topic}`);
    for (let sent = 0; sent < n; sent += 2_000) {
      await kit.send(topic, tasks(Math.min(2_000, n - sent), sent));
    }

    // 1. bare consumers: one that only counts, one that also decodes and parses each value
    const bareRate = await bareConsumer(kit, topic, `${prefix}bench-bare`, n, () => {});
    const decoder = new TextDecoder();
    let parsed = 0;
    const parseRate = await bareConsumer(kit, topic, `${prefix}bench-parse`, n, (value) => {
      if (JSON.parse(decoder.decode(value)) !== null) parsed++;
    });

    // 2. the observer process catching up, on our envelope
    console.error("bench observer: the observer catches up (our envelope)");
    const mat = await catchUp(prefix, "catchup", n, dirs);

    // 3. the same on A2A Messages in binary CloudEvents, read by the dialect layer
    const a2aTopic = `${prefix}a2a.inbox.researcher`;
    topics.push(a2aTopic);
    await kit.createTopics([a2aTopic], 4);
    console.error(
      `bench observer: producing ${n} A2A Messages (CloudEvents binary) to ${a2aTopic}`,
    );
    for (let sent = 0; sent < n; sent += 2_000) {
      await kit.send(a2aTopic, a2aTasks(Math.min(2_000, n - sent), sent));
    }
    const a2aParseRate = await bareConsumer(
      kit,
      a2aTopic,
      `${prefix}bench-parse-a2a`,
      n,
      (value) => {
        if (JSON.parse(decoder.decode(value)) !== null) parsed++;
      },
    );
    console.error("bench observer: the observer catches up (A2A in CloudEvents)");
    const a2a = await catchUp(prefix, "catchup-a2a", n, dirs, {
      KAFKA_TOPIC_PATTERN: `^${prefix.replaceAll(".", "\\.")}a2a\\.inbox\\.(?<agent>[a-z]+)$`,
    });

    console.log(JSON.stringify(
      {
        messages: n,
        bare_consumer_msgs_per_s: Math.round(bareRate),
        bare_consumer_parsing_msgs_per_s: Math.round(parseRate),
        bare_consumer_parsing_a2a_msgs_per_s: Math.round(a2aParseRate),
        values_parsed: parsed,
        observer_rss_mib_idle: Math.round(idleRss / MiB),
        envelope: figures(mat, bareRate, parseRate),
        a2a_cloudevents: figures(a2a, bareRate, a2aParseRate),
        a2a_cost_ratio: Number((mat.rate / a2a.rate).toFixed(2)),
      },
      null,
      2,
    ));
    return mat.seen >= n && a2a.seen >= n && mat.code === 0 && a2a.code === 0 ? 0 : 1;
  } finally {
    // cleanup: topics never created, or a broker already gone, leave nothing to delete
    await kit.deleteTopics(topics).catch(() => {});
    await kit.deleteGroups([
      `${prefix}bench-bare`,
      `${prefix}bench-parse`,
      `${prefix}bench-parse-a2a`,
      `${prefix}catchup`,
      `${prefix}catchup-a2a`,
    ]);
    await kit.close();
    // cleanup: the directories may not exist: nothing to remove
    for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
}

Deno.exit(await main(Deno.args));
