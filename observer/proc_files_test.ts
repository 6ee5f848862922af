import assert from "node:assert/strict";
import { procStat, vmRssBytes } from "./proc_files.ts";

Deno.test("proc files parse as the kernel writes them", () => {
  assert.equal(vmRssBytes("Name:\tdeno\nVmRSS:\t   51200 kB\nThreads:\t9\n"), 51200 * 1024);
  assert.equal(vmRssBytes("Name:\tkthreadd\n"), undefined);
  const stat = "4242 (deno (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 " +
    "30 12 0 0 20 0 9 0 555 1000 100";
  assert.deepEqual(procStat(stat), { cpuTicks: 42, startTicks: 555 });
});
