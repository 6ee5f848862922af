/**
 * `deno task bench oracle [--mb N] [--runs N]`: the oracle on a generated history of N MB
 * (default 1024) in the real record format, side by side with `grep -c` and `jq` doing the same
 * filter on the same files. Prints medians, and peak memory when GNU time is installed.
 * Figures, not a test. Needs grep and jq (apt-get install jq time).
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { DIFF_FILE_BASE } from "@mat/observer";
import { listSegments } from "@mat/observer/segments";
import { generateHistory } from "./history_generator.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Figure {
  name: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  peakMb: number | null;
  output: string;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function timeOnce(
  cmd: string[],
): Promise<{ ms: number; peakMb: number | null; out: string }> {
  const gnuTime = await exists("/usr/bin/time");
  const args = gnuTime ? ["-f", "PEAK_KB=%M", ...cmd] : cmd.slice(1);
  const started = performance.now();
  const out = await new Deno.Command(gnuTime ? "/usr/bin/time" : cmd[0] ?? "true", {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const ms = performance.now() - started;
  const err = new TextDecoder().decode(out.stderr);
  const kb = /PEAK_KB=(\d+)/.exec(err)?.[1];
  return {
    ms,
    peakMb: kb ? Number(kb) / 1024 : null,
    out: new TextDecoder().decode(out.stdout).trim().slice(0, 120),
  };
}

async function measure(name: string, cmd: string[], runs: number): Promise<Figure> {
  await timeOnce(cmd); // warm-up: page cache, compile cache
  const times: number[] = [];
  let peak: number | null = null;
  let output = "";
  for (let i = 0; i < runs; i++) {
    const r = await timeOnce(cmd);
    times.push(r.ms);
    peak = r.peakMb === null ? peak : Math.max(peak ?? 0, r.peakMb);
    output = r.out;
  }
  times.sort((a, b) => a - b);
  return {
    name,
    medianMs: times[Math.floor(times.length / 2)] ?? NaN,
    minMs: times[0] ?? NaN,
    maxMs: times[times.length - 1] ?? NaN,
    peakMb: peak,
    output,
  };
}

export async function benchOracle(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { mb: { type: "string", default: "1024" }, runs: { type: "string", default: "5" } },
  });
  const mb = Number(values.mb);
  const runs = Number(values.runs);
  if (!Number.isFinite(mb) || mb < 1 || !Number.isInteger(runs) || runs < 1) {
    console.error(
      `error: --mb and --runs must be positive numbers, got "${values.mb}", "${values.runs}"`,
    );
    return 2;
  }
  const dir = `${ROOT}bench/.data/history-${mb}mb`;
  if (!(await exists(`${dir}/.complete`))) {
    // cleanup: the directory may not exist: nothing to remove
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir, { recursive: true });
    console.error(`bench: generating ${mb} MB of history in ${dir} (once; cached)`);
    const t0 = performance.now();
    const { records } = await generateHistory({
      dir,
      bytes: mb * 1024 * 1024,
      start: Date.parse("2026-11-20T00:00:00Z"),
      stepMs: 25,
      progress: (b) =>
        Deno.stderr.writeSync(new TextEncoder().encode(`\r  ${(b / 1048576).toFixed(0)} MB`)),
    });
    console.error(
      `\nbench: ${records} Kafka records in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
    await Deno.writeTextFile(`${dir}/.complete`, "");
  }
  const segments = await listSegments(dir, DIFF_FILE_BASE);
  const diffFiles = segments.map((s) => s.path);
  let bytes = 0;
  for (const f of diffFiles) bytes += (await Deno.stat(f)).size;
  // The newest record's time, for the windowed filters of the baselines.
  const last = await new Deno.Command("sh", {
    args: ["-c", `tail -n 1 ${diffFiles.at(-1)}`],
    stdout: "piped",
  }).output();
  const lastTs = String(JSON.parse(new TextDecoder().decode(last.stdout)).ts);
  const tenMinAgo = new Date(Date.parse(lastTs) - 600_000).toISOString();
  const midTs = new Date(
    Date.parse("2026-11-20T00:00:00Z") +
      (Date.parse(lastTs) - Date.parse("2026-11-20T00:00:00Z")) / 2,
  ).toISOString();
  const oracle = [Deno.execPath(), "run", "--allow-read", "--allow-env", `${ROOT}oracle/main.ts`];
  const data = ["--data-dir", dir, "-f", "json"];
  const files = diffFiles.join(" ");
  console.error(
    `bench: ${
      (bytes / 1048576).toFixed(0)
    } MB in ${diffFiles.length} segment(s), ${runs} runs each after a warm-up`,
  );
  const figures: Figure[] = [];
  const run = async (name: string, cmd: string[]) => {
    const f = await measure(name, cmd, runs);
    figures.push(f);
    console.error(`  ${name}: ${f.medianMs.toFixed(0)} ms`);
  };
  await run("oracle replay -m 10", [...oracle, "replay", "-m", "10", "-l", "50", ...data]);
  await run(`grep -c (ts >= last-10m, full scan)`, [
    "sh",
    "-c",
    `cat ${files} | grep -c '"ts":"${tenMinAgo.slice(0, 15)}'`,
  ]);
  await run("jq (ts >= last-10m)", [
    "sh",
    "-c",
    `cat ${files} | jq -c 'select(.ts >= "${tenMinAgo}")' | wc -l`,
  ]);
  await run(`oracle state --at ${midTs}`, [...oracle, "state", "--at", midTs, ...data]);
  await run("oracle diagnose", [...oracle, "diagnose", ...data]);
  await run("oracle errors -s critical", [...oracle, "errors", "-s", "critical", ...data]);
  await run("oracle errors -s error --after 2026-11-20T00:00:00Z (full scan)", [
    ...oracle,
    "errors",
    "-s",
    "error",
    "--after",
    "2026-11-20T00:00:00Z",
    ...data,
  ]);
  await run("oracle diffs -e handoff_stuck (full scan)", [
    ...oracle,
    "diffs",
    "-e",
    "handoff_stuck",
    "-l",
    "5",
    ...data,
  ]);
  await run(`grep -c '"type":"handoff_stuck"'`, [
    "sh",
    "-c",
    `cat ${files} | grep -c '"type":"handoff_stuck"'`,
  ]);
  await run(`jq select(.type=="handoff_stuck")`, [
    "sh",
    "-c",
    `cat ${files} | jq -c 'select(.type=="handoff_stuck")' | wc -l`,
  ]);
  const grepFull = figures.find((f) => f.name.startsWith(`grep -c '"type"`))?.medianMs ?? NaN;
  const jqFull = figures.find((f) => f.name.startsWith("jq select"))?.medianMs ?? NaN;
  console.log(`\nhistory: ${(bytes / 1048576).toFixed(0)} MB, ${diffFiles.length} segments`);
  console.log("| command | median ms | min | max | peak MB | vs grep -c (full) | vs jq (full) |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const f of figures) {
    console.log(
      `| ${f.name} | ${f.medianMs.toFixed(0)} | ${f.minMs.toFixed(0)} | ${f.maxMs.toFixed(0)} | ${
        f.peakMb === null ? "-" : f.peakMb.toFixed(0)
      } | ${(f.medianMs / grepFull).toFixed(2)}x | ${(f.medianMs / jqFull).toFixed(2)}x |`,
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(await benchOracle(Deno.args));
