/**
 * `deno task compile`: builds `dist/oracle-monitor`, a standalone oracle with the read-only
 * permissions baked in (`--allow-read --allow-env`; no write, net or run).
 *
 * `deno compile` needs its runtime base, `denort`, which it downloads from dl.deno.land unless
 * `DENORT_BIN` names a local copy. Where neither works (as on machines with no internet), this
 * says so plainly and exits 3, so callers can tell "cannot build here" from a build failure (1).
 */

import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUTPUT = `${ROOT}dist/oracle-monitor`;

export const NO_RUNTIME_BASE = 3;

async function main(): Promise<number> {
  await Deno.mkdir(`${ROOT}dist`, { recursive: true });
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "--allow-read",
      "--allow-env",
      "--include",
      `${ROOT}oracle/schema/oracle_output.schema.json`,
      "--output",
      OUTPUT,
      `${ROOT}oracle/main.ts`,
    ],
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  if (code === 0) {
    console.log(`compile: built ${OUTPUT} (read-only: --allow-read --allow-env)`);
    return 0;
  }
  if (/dl\.deno\.land|denort/i.test(text) && !Deno.env.get("DENORT_BIN")) {
    console.error(
      "compile: deno compile cannot obtain its runtime base (denort, downloaded from dl.deno.land), " +
        "which this machine cannot reach; set DENORT_BIN to a local denort binary of the same " +
        `Deno version (${Deno.version.deno}) to build offline. Use \`deno task oracle\` meanwhile.`,
    );
    return NO_RUNTIME_BASE;
  }
  console.error(text.trim());
  console.error("compile: deno compile failed");
  return 1;
}

if (import.meta.main) Deno.exit(await main());
