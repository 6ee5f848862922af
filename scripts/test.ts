/**
 * `deno task test [deno test args...]`: runs `deno test --allow-all` over the workspace against a
 * Kafka broker, with `KAFKA_BOOTSTRAP_SERVERS` pointing at it. A local broker is started when none
 * answers, and stopped afterwards (also on failure or Ctrl-C) if this script started it.
 *
 * Extra arguments go to `deno test` (a `--filter`, file paths, ...). The last line printed is
 * `N passed, N failed`, read from deno test's summary. Exit code: deno test's, 1 when no test ran.
 */

import { fileURLToPath } from "node:url";
import { textLines } from "@mat/agents/lines";
import { BrokerExitedError, startKafka, stopKafka } from "./kafka.ts";
import { errorText } from "@mat/agents/support";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Test case counts of a `deno test` run */
export interface TestCounts {
  passed: number;
  failed: number;
}

// deno-lint-ignore no-control-regex
const ANSI_ESCAPE = /\x1b\[[0-9;]*[A-Za-z]/g;
const SUMMARY = /^(?:ok|FAILED) \| (\d+) passed\b.*?\| (\d+) failed\b/;

/**
 * The counts in a deno test summary line such as `ok | 12 passed (3 steps) | 0 failed (5s)` or
 * `FAILED | 3 passed | 1 failed (2s)`, or undefined when `line` is not one
 */
export function parseSummary(line: string): TestCounts | undefined {
  const match = SUMMARY.exec(line.replace(ANSI_ESCAPE, "").trim());
  if (!match) return undefined;
  return { passed: Number(match[1]), failed: Number(match[2]) };
}

interface Writer {
  write(bytes: Uint8Array): Promise<number>;
}

async function writeAll(out: Writer, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await out.write(bytes.subarray(written));
}

/** The chunks of `stream`, each copied to `out` as it comes */
async function* copied(
  stream: ReadableStream<Uint8Array>,
  out: Writer,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    await writeAll(out, chunk);
    yield chunk;
  }
}

/** Copies `stream` to `out` as it comes, calling `onLine` with each line of text */
async function tee(
  stream: ReadableStream<Uint8Array>,
  out: Writer,
  onLine: (line: string) => void,
): Promise<void> {
  for await (const line of textLines(copied(stream, out))) onLine(line);
}

/** Runs `deno test --allow-all ...args` with its output streamed; returns its exit code and counts */
async function runDenoTest(
  args: string[],
  bootstrap: string,
  onSpawn: (child: Deno.ChildProcess) => void,
): Promise<{ code: number; counts: TestCounts | undefined }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", ...args],
    cwd: REPO_ROOT,
    env: { KAFKA_BOOTSTRAP_SERVERS: bootstrap },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  onSpawn(child);
  let counts: TestCounts | undefined;
  const onLine = (line: string) => {
    counts = parseSummary(line) ?? counts;
  };
  // A hung test must not eat CI's whole budget: past TEST_TIMEOUT_SECONDS the run is ended.
  const limitS = Number(Deno.env.get("TEST_TIMEOUT_SECONDS") ?? "1800");
  const timer = setTimeout(() => {
    console.error(`error: the tests ran past TEST_TIMEOUT_SECONDS=${limitS}; ending them`);
    try {
      child.kill("SIGTERM");
      setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 10_000);
    } catch { /* gone */ }
  }, (Number.isFinite(limitS) && limitS > 0 ? limitS : 1800) * 1000);
  await Promise.all([
    tee(child.stdout, Deno.stdout, onLine),
    tee(child.stderr, Deno.stderr, onLine),
  ]);
  const { code } = await child.status;
  clearTimeout(timer);
  return { code, counts };
}

async function main(args: string[]): Promise<number> {
  const interrupt = new AbortController();
  let child: Deno.ChildProcess | undefined;
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => {
      interrupt.abort(new Error(`Interrupted by ${signal}`));
      try {
        child?.kill(signal);
      } catch {
        // Already exited
      }
    };
    Deno.addSignalListener(signal, handler);
    return { signal, handler };
  });

  let startedBroker = false;
  let counts: TestCounts | undefined;
  let code = 1;
  try {
    const kafka = await startKafka({ signal: interrupt.signal, stopOnFailure: true });
    startedBroker = kafka.started;
    if (!interrupt.signal.aborted) {
      console.error(
        `test: ${["deno test --allow-all", ...args].join(" ")} against ${kafka.bootstrap}`,
      );
      const result = await runDenoTest(args, kafka.bootstrap, (spawned) => child = spawned);
      counts = result.counts;
      code = result.code;
    }
  } catch (error) {
    if (error instanceof BrokerExitedError && error.logTail) {
      console.error(`--- last lines of the broker's log ---\n${error.logTail}\n---`);
    }
    console.error(`error: ${errorText(error)}`);
  } finally {
    if (startedBroker) {
      await stopKafka().catch((error) => console.error(`error: ${errorText(error)}`));
    }
    for (const { signal, handler } of handlers) Deno.removeSignalListener(signal, handler);
  }

  const passed = counts?.passed ?? 0;
  const failed = counts?.failed ?? 1;
  if (interrupt.signal.aborted && code === 0) code = 130;
  if (code === 0 && (counts === undefined || passed + failed === 0)) {
    console.error("error: No test ran");
    code = 1;
  }
  console.log(`${passed} passed, ${failed} failed`);
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
