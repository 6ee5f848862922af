/** What both eval harnesses need of the machine: a free port, and the supervisor's pids */

/** A TCP port free on 127.0.0.1 now */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * The running pid of an agent in the supervisor's processes.json, narrowed from unknown: of one
 * `replica` when given (its processes.json lists each replica), else of the first one running
 */
export function runningPid(file: unknown, agent: string, replica?: number): number | undefined {
  if (typeof file !== "object" || file === null || !("processes" in file)) return undefined;
  const list = file.processes;
  if (!Array.isArray(list)) return undefined;
  for (const p of list) {
    if (typeof p !== "object" || p === null) continue;
    const { agent: a, pid, status, replica: r } = p as Record<string, unknown>;
    if (replica !== undefined && r !== replica) continue;
    if (a === agent && status === "running" && typeof pid === "number") return pid;
  }
  return undefined;
}

/** The pid of an agent's running process, from the supervisor's processes.json in `stateDir` */
export async function agentPid(stateDir: string, agent: string, replica?: number): Promise<number> {
  const text = await Deno.readTextFile(`${stateDir}/processes.json`);
  const pid = runningPid(JSON.parse(text), agent, replica);
  if (pid === undefined) {
    const which = replica === undefined ? agent : `${agent} replica ${replica}`;
    throw new Error(`No running process of ${which} in processes.json`);
  }
  return pid;
}
