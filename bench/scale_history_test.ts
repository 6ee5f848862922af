/**
 * The oracle on a shape too large to run here: a generated healthy history of 50 agents x 12
 * partitions (every task answered, no error), read by the real `oracle diagnose` as a subprocess.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { fleetWorkerNames } from "@mat/agents";
import { generateHistory } from "./history_generator.ts";

const ORACLE = fileURLToPath(new URL("../oracle/main.ts", import.meta.url));

Deno.test("diagnose on a generated healthy history of 50 agents x 12 partitions is healthy and bounded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "scale-history-" });
  try {
    const { records } = await generateHistory({
      dir,
      bytes: 8 * 1024 * 1024,
      start: Date.parse("2026-11-20T00:00:00Z"),
      stepMs: 2,
      workers: fleetWorkerNames(50),
      partitions: 12,
      faults: false,
    });
    assert.ok(records > 5_000, `${records} records generated`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", ORACLE, "diagnose", "-f", "json"],
      env: { TELEMETRY_DATA_DIR: dir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const doc = JSON.parse(stdout);
    assert.equal(doc.status, "healthy", stdout.slice(0, 2_000));
    assert.deepEqual(doc.incidents, []);
    // Bounded: fifty agents do not make the answer fifty times longer
    assert.ok(stdout.length < 16_000, `${stdout.length} characters of JSON`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
