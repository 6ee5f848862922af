/**
 * `deno task bench groups [--groups N] [--runs R]`: what asking the broker which groups read the
 * agent queues costs (needs the broker: `deno task kafka start`). Figures, not a test.
 *
 * Under a unique prefix: 4 agent queues of 2 partitions, and N consumer groups (default 20) that
 * read them, half with a live member that committed, half empty with committed offsets only. Then
 * R times (default 20) each:
 * - a discovery (`groupsReading`: ListGroups, one DescribeGroups per coordinator, one OffsetFetch
 *   per group listed), which sees every group on the broker, not only the bench's;
 * - the per-poll reads of the groups found (one DescribeGroups for all of them, one OffsetFetch
 *   per group and queue), beside the baseline: the reads of one poll before discovery (per queue
 *   one OffsetFetch and one DescribeGroups of its conventional group).
 *
 * Exit codes: 0 done, 1 the broker failed, 2 usage error.
 */

import { parseArgs } from "node:util";
import { bootstrapServers, groupFor, topicFor } from "@mat/agents";
import { type Feed, KafkaAdapter } from "../observer/kafka_adapter.ts";
import { errorText } from "@mat/agents/support";

const AGENTS = ["orchestrator", "researcher", "writer", "coder"];

function parse(argv: string[]): { groups: number; runs: number } {
  const { values } = parseArgs({
    args: argv,
    options: { groups: { type: "string" }, runs: { type: "string" } },
  });
  const groups = Number(values.groups ?? "20");
  const runs = Number(values.runs ?? "20");
  if (!Number.isSafeInteger(groups) || groups < 2 || groups > 1_000) {
    throw new RangeError(`--groups must be an integer from 2 to 1000, got "${values.groups}"`);
  }
  if (!Number.isSafeInteger(runs) || runs < 1 || runs > 10_000) {
    throw new RangeError(`--runs must be an integer from 1 to 10000, got "${values.runs}"`);
  }
  return { groups, runs };
}

/** Median and 95th percentile of timings, ms */
function figures(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `median ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms`;
}

async function timed(runs: number, work: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await work();
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  let options: { groups: number; runs: number };
  try {
    options = parse(argv);
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 2;
  }
  const prefix = `b${crypto.randomUUID().slice(0, 8)}-agent-queue-`;
  const kit = new KafkaAdapter({ brokers: bootstrapServers(), clientId: "bench-groups" });
  const topics = AGENTS.map((a) => topicFor(a, prefix));
  const groups = Array.from({ length: options.groups }, (_, i) => `${prefix}reader-${i}`);
  const feeds: Feed[] = [];
  try {
    await kit.createTopics(topics, 2);
    for (const t of topics) {
      await kit.send(t, [{ value: "x", partition: 0 }, { value: "y", partition: 1 }]);
    }
    const live = groups.slice(0, Math.ceil(groups.length / 2));
    const empty = groups.slice(live.length);
    for (const [i, groupId] of live.entries()) {
      const topic = topics[i % topics.length] ?? "";
      const feed = await kit.feed({
        groupId,
        topics: [topic],
        start: [],
        onBatch: () => Promise.resolve(),
      });
      feeds.push(feed);
    }
    // Live members commit once they are assigned (a member commits only what it owns)
    for (const [i, feed] of feeds.entries()) {
      const topic = topics[i % topics.length] ?? "";
      const positions = [0, 1].map((partition) => ({ topic, partition, offset: "1" }));
      for (let attempt = 0;; attempt++) {
        try {
          await feed.commit(positions);
          break;
        } catch (err) {
          if (attempt >= 50) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
    for (const [i, groupId] of empty.entries()) {
      const topic = topics[i % topics.length] ?? "";
      await kit.setGroupOffsets(groupId, topic, [{ topic, partition: 0, offset: "1" }]);
    }
    const found = await kit.groupsReading(topics, { skip: () => false });
    const readers = [...found.readers].flatMap(([topic, rs]) => rs.map((r) => ({ topic, ...r })));
    console.log(
      `${found.groups} consumer groups on the broker, ${readers.length} reading the ` +
        `${topics.length} queues (${readers.filter((r) => r.assigned).length} by their members, ` +
        `${readers.filter((r) => !r.assigned).length} by committed offsets only)`,
    );
    const discovery = await timed(
      options.runs,
      () => kit.groupsReading(topics, { skip: () => false }),
    );
    const poll = await timed(options.runs, async () => {
      await kit.describeGroups([...new Set(readers.map((r) => r.group))]);
      await Promise.all(readers.map((r) => kit.groupOffsets(r.group, r.topic)));
    });
    const baseline = await timed(options.runs, async () => {
      for (const [i, t] of topics.entries()) {
        const group = groupFor(AGENTS[i] ?? "", prefix);
        await Promise.all([kit.groupOffsets(group, t), kit.describeGroup(group)]);
      }
    });
    console.log(`discovery (${found.groups} groups): ${figures(discovery)}`);
    console.log(`per-poll reads of the ${readers.length} groups found: ${figures(poll)}`);
    console.log(`baseline, one conventional group per queue: ${figures(baseline)}`);
    return 0;
  } catch (err) {
    console.error(`error: ${errorText(err)}`);
    return 1;
  } finally {
    for (const f of feeds) await f.stop();
    await kit.deleteGroups(groups);
    await kit.deleteTopics(topics).catch(() => {});
    await kit.close();
  }
}

Deno.exit(await main(Deno.args));
