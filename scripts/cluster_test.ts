import { strictEqual } from "node:assert/strict";
import { runScript } from "./run_script.ts";

const SCRIPT = new URL("./cluster.ts", import.meta.url).pathname;

function cluster(...args: string[]) {
  return runScript(SCRIPT, args);
}

Deno.test("cluster with an unknown command is a usage error: exit 2, one error line first", async () => {
  const { code, stdout, stderr } = await cluster("sideways");
  strictEqual(code, 2);
  strictEqual(stdout, "");
  strictEqual(stderr.split("\n")[0], 'error: unknown command "sideways"');
});

Deno.test("cluster with no command is a usage error", async () => {
  const { code, stderr } = await cluster();
  strictEqual(code, 2);
  strictEqual(stderr.split("\n")[0], "error: expected one command, got []");
});

Deno.test("cluster --help prints the usage with an example on stdout", async () => {
  const { code, stdout } = await cluster("--help");
  strictEqual(code, 0);
  strictEqual(stdout.startsWith("Usage: deno task cluster <command>"), true);
  strictEqual(stdout.includes("Example:"), true);
});
