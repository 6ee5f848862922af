/**
 * The command line of `deno task kafka`, run as a subprocess under NO_COLOR: its help, its usage
 * errors, and `status` of a cluster that does not answer. The broker's own tests are in
 * scripts/kafka/.
 */

import assert from "node:assert/strict";
import { runScript } from "./run_script.ts";

const KAFKA = new URL("./kafka.ts", import.meta.url).pathname;
const HELP = new URL("./testdata/kafka_help.txt", import.meta.url);

function kafka(args: string[], env: Record<string, string> = {}) {
  return runScript(KAFKA, args, { KAFKA_BOOTSTRAP_SERVERS: "", KAFKA_PORT: "", ...env });
}

Deno.test("kafka --help and -h print the help on stdout and exit 0", async () => {
  const help = await Deno.readTextFile(HELP);
  for (const flag of ["--help", "-h"]) {
    assert.deepEqual(await kafka([flag]), { code: 0, stdout: help, stderr: "" });
  }
});

Deno.test("kafka exits 2 with one error line on a bad flag, command or argument", async () => {
  const cases: [string[], string][] = [
    [["--bogus"], 'error: Unknown flag "--bogus" (see --help)'],
    [[], "error: Missing command: expected start, stop or status"],
    [["frobnicate"], 'error: Unknown command "frobnicate": expected start, stop or status'],
    [["status", "stop"], 'error: Unexpected argument "stop" (see --help)'],
  ];
  for (const [args, error] of cases) {
    assert.deepEqual(await kafka(args), { code: 2, stdout: "", stderr: `${error}\n` });
  }
});

Deno.test("kafka exits 1 naming a bad KAFKA_PORT", async () => {
  assert.deepEqual(await kafka(["status"], { KAFKA_PORT: "abc" }), {
    code: 1,
    stdout: "",
    stderr: 'error: Invalid KAFKA_PORT "abc": expected an integer from 1 to 65534\n',
  });
});

Deno.test("kafka status of a cluster that does not answer says so and exits 3", async () => {
  assert.deepEqual(await kafka(["status"], { KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1" }), {
    code: 3,
    stdout: "kafka: 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS)\nbroker: does not answer\n",
    stderr: "",
  });
});

Deno.test("kafka stop does nothing when KAFKA_BOOTSTRAP_SERVERS names the cluster", async () => {
  assert.deepEqual(await kafka(["stop"], { KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1" }), {
    code: 0,
    stdout: "",
    stderr: "kafka: KAFKA_BOOTSTRAP_SERVERS is set: no local broker is managed, nothing to stop\n",
  });
});
