/**
 * `deno task bench agents [--requests N] [--concurrency C]`: N user requests (C in flight at once)
 * through the real broker to the four real agent processes (the real supervisor, the scripted
 * model), and beside it, in the same run, the broker's bare round trip: the same number of records
 * produced and consumed with kafkajs. Prints answered, failed, end-to-end latency p50/p99/max and
 * requests per second, each against the baseline. Figures, not a test.
 */

import { parseArgs } from "node:util";
import { KafkaBus, parseEnvelope, type Subscription, USER_INBOX } from "@mat/agents";
import { userRequest } from "@mat/agents/submit";
import { AgentsProcess, TestQueues } from "@mat/agents/testing";
import { startKafka, stopKafka } from "../scripts/kafka.ts";

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

interface Figures {
  done: number;
  failed: number;
  seconds: number;
  latencies: number[];
}

/** N records produced (C in flight) and consumed back by a bare kafkajs consumer */
async function bareRoundTrip(bus: KafkaBus, n: number, c: number): Promise<Figures> {
  const topic = `bench-rt-${crypto.randomUUID().slice(0, 8)}`;
  await bus.createTopics([topic], 2);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const all = Promise.withResolvers<void>();
  const sub: Subscription = await bus.consume({
    groupId: `${topic}-reader`,
    topics: [topic],
    fromBeginning: true,
    onRecord: (r) => {
      const key = r.key ?? "";
      const t = sentAt.get(key);
      if (t !== undefined) {
        latencies.push(performance.now() - t);
        sentAt.delete(key);
        next();
      }
      if (latencies.length >= n) all.resolve();
      return Promise.resolve();
    },
  });
  let sent = 0;
  const send = (count: number) => {
    const batch = [];
    for (let i = 0; i < count && sent < n; i++, sent++) {
      const key = `r${sent}`;
      sentAt.set(key, performance.now());
      batch.push({ topic, key, value: JSON.stringify({ n: sent, pad: "x".repeat(300) }) });
    }
    if (batch.length > 0) void bus.send(batch);
  };
  const next = () => send(1);
  const t0 = performance.now();
  send(c);
  await all.promise;
  const seconds = (performance.now() - t0) / 1000;
  await sub.stop();
  // the topic may not exist yet: nothing to delete
  await bus.deleteTopics([topic]).catch(() => {});
  return { done: latencies.length, failed: 0, seconds, latencies };
}

/** N requests through the agents, C in flight, answers read from the user inbox */
async function throughAgents(queues: TestQueues, n: number, c: number): Promise<Figures> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let failed = 0;
  const all = Promise.withResolvers<void>();
  const inbox = queues.topic(USER_INBOX);
  const start = await queues.bus.highWatermarks(inbox);
  const sub = await queues.bus.consume({
    groupId: `bench-inbox-${crypto.randomUUID().slice(0, 8)}`,
    topics: [inbox],
    fromBeginning: false,
    seekTo: start.map((s) => ({ topic: inbox, ...s })),
    onRecord: (r) => {
      const parsed = parseEnvelope(r.value);
      if (!parsed.ok) return Promise.resolve();
      const t = sentAt.get(parsed.envelope.conversation_id);
      if (t === undefined) return Promise.resolve();
      sentAt.delete(parsed.envelope.conversation_id);
      latencies.push(performance.now() - t);
      if (parsed.envelope.type !== "RESULT") failed++;
      if (latencies.length >= n) all.resolve();
      else send(1);
      return Promise.resolve();
    },
  });
  let sent = 0;
  const send = (count: number) => {
    const batch = [];
    for (let i = 0; i < count && sent < n; i++, sent++) {
      const conversation = `conv-bench${sent}`;
      sentAt.set(conversation, performance.now());
      batch.push(userRequest({
        conversationId: conversation,
        request: `Summarise why consumer lag matters (${sent})`,
        deadline: new Date(Date.now() + 600_000),
        prefix: queues.prefix,
      }));
    }
    if (batch.length > 0) void queues.bus.send(batch);
  };
  const t0 = performance.now();
  send(c);
  const timeout = setTimeout(() => all.resolve(), 600_000);
  await all.promise;
  clearTimeout(timeout);
  const seconds = (performance.now() - t0) / 1000;
  await sub.stop();
  return { done: latencies.length, failed, seconds, latencies };
}

export async function benchAgents(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { requests: { type: "string", default: "1000" }, concurrency: { type: "string" } },
  });
  const n = Number(values.requests);
  const c = Number(values.concurrency ?? values.requests);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(c) || c < 1) {
    console.error(
      `error: --requests and --concurrency must be whole numbers of 1 or more, got "${values.requests}", "${values.concurrency}"`,
    );
    return 2;
  }
  const kafka = await startKafka({ stopOnFailure: true });
  const queues = await TestQueues.create();
  const stateDir = await Deno.makeTempDir({ prefix: "bench-agents-" });
  const agents = AgentsProcess.start(queues, { stateDir });
  try {
    await agents.ready();
    console.error(`bench: ${n} requests, ${c} in flight, through the four agents`);
    const through = await throughAgents(queues, n, c);
    console.error(`bench: the broker's bare round trip of ${n} records, ${c} in flight`);
    const bare = await bareRoundTrip(queues.bus, n, c);
    const row = (name: string, f: Figures) => {
      const s = [...f.latencies].sort((a, b) => a - b);
      return {
        name,
        answered: f.done - f.failed,
        failed: f.failed + (n - f.done),
        p50: quantile(s, 0.5),
        p99: quantile(s, 0.99),
        max: s.at(-1) ?? NaN,
        rps: f.done / f.seconds,
      };
    };
    const a = row("requests through the 4 agents (3 hops each)", through);
    const b = row("bare kafkajs produce + consume", bare);
    console.log(`\n${n} requests, ${c} in flight`);
    console.log("| run | answered | failed | p50 ms | p99 ms | max ms | per s |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const r of [a, b]) {
      console.log(
        `| ${r.name} | ${r.answered} | ${r.failed} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${
          r.max.toFixed(0)
        } | ${r.rps.toFixed(0)} |`,
      );
    }
    console.log(
      `| ratio (agents / bare) | | | ${(a.p50 / b.p50).toFixed(1)}x | ${
        (a.p99 / b.p99).toFixed(1)
      }x | ${(a.max / b.max).toFixed(1)}x | ${(a.rps / b.rps).toFixed(2)}x |`,
    );
    return a.failed === 0 ? 0 : 1;
  } finally {
    await agents.stop();
    await queues.close();
    // cleanup: the directory may not exist: nothing to remove
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    if (kafka.started) await stopKafka();
  }
}

if (import.meta.main) Deno.exit(await benchAgents(Deno.args));
