/**
 * `deno task bench [observer|oracle] [options]`: the benchmarks. They print figures as ratios
 * against a baseline run side by side; they assert nothing.
 *
 * - `observer [--messages N]`: ingest rate against a bare kafkajs consumer, production-to-disk
 *   latency, memory (needs the broker: `deno task kafka start`);
 * - `oracle [--mb N] [--runs N]`: the oracle on a generated history against grep and jq;
 * - `agents [--requests N] [--concurrency C]`: user requests through the four real agents against
 *   the broker's bare round trip (starts the broker when none answers);
 * - `groups [--groups N] [--runs R]`: asking the broker which groups read the agent queues, against
 *   the reads of one poll (needs the broker).
 *
 * With no name, all run with their defaults.
 */

const USAGE = "Usage: deno task bench [observer|oracle|agents|groups] [options]";

async function run(script: string, args: string[]): Promise<number> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(script, import.meta.url).pathname, ...args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

const SCRIPTS: Record<string, string> = {
  observer: "./observer_bench.ts",
  oracle: "./oracle_bench.ts",
  agents: "./agents_bench.ts",
  groups: "./groups_bench.ts",
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h") {
    console.log(USAGE);
    return 0;
  }
  if (name === undefined) {
    let worst = 0;
    for (const script of Object.values(SCRIPTS)) worst = Math.max(worst, await run(script, []));
    return worst;
  }
  const script = SCRIPTS[name];
  if (script === undefined) {
    console.error(
      `error: unknown benchmark "${name}": expected observer, oracle, agents or groups`,
    );
    return 2;
  }
  return await run(script, rest);
}

Deno.exit(await main(Deno.args));
