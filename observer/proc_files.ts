/**
 * What Linux's `/proc` says of a process, as the local source samples it: resident memory from
 * `/proc/<pid>/status`, CPU time and start time from `/proc/<pid>/stat`.
 */

/** Clock ticks per second of the times in `/proc/<pid>/stat` (USER_HZ, 100 on Linux) */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Resident set size in bytes from the text of `/proc/<pid>/status`, or undefined */
export function vmRssBytes(status: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** utime + stime (clock ticks) and start time (ticks after boot) from `/proc/<pid>/stat` */
export function procStat(stat: string): { cpuTicks: number; startTicks: number } | undefined {
  // The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const start = Number(fields[19]);
  if (![utime, stime, start].every(Number.isFinite)) return undefined;
  return { cpuTicks: utime + stime, startTicks: start };
}

/** The text of `path`, or undefined when it does not exist (a process gone, say) */
export async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
