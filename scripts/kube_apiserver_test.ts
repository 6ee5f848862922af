/**
 * The command line of scripts/kube_apiserver.ts, run as a subprocess under NO_COLOR: its help and
 * its usage errors (no server is started here; scripts/kube_manifests_test.ts starts one)
 */

import assert from "node:assert/strict";
import { runScript } from "./run_script.ts";

const KUBE = new URL("./kube_apiserver.ts", import.meta.url).pathname;
const HELP = new URL("./testdata/kube_apiserver_help.txt", import.meta.url);

function kube(args: string[]) {
  return runScript(KUBE, args);
}

Deno.test("kube_apiserver --help, -h and help print the help on stdout and exit 0", async () => {
  const help = await Deno.readTextFile(HELP);
  for (const flag of ["--help", "-h", "help"]) {
    assert.deepEqual(await kube([flag]), { code: 0, stdout: help, stderr: "" });
  }
});

Deno.test("kube_apiserver exits 2 with the help on stderr without exactly one known command", async () => {
  const help = await Deno.readTextFile(HELP);
  const cases: [string[], string][] = [
    [[], "error: expected one command, got []"],
    [["status", "stop"], 'error: expected one command, got ["status","stop"]'],
    [["frobnicate"], 'error: unknown command "frobnicate"'],
    [["--bogus"], 'error: unknown command "--bogus"'],
  ];
  for (const [args, error] of cases) {
    assert.deepEqual(await kube(args), { code: 2, stdout: "", stderr: `${error}\n\n${help}` });
  }
});
