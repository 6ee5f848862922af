/**
 * An agent's replicas, as lineages: a replica is a process and the processes that replaced it.
 * A pod whose container restarts keeps its name, so its deaths are one lineage; a local process
 * that dies is replaced by a new pid, the first process of the agent started after the death
 * that no other lineage claimed. A crash loop is a lineage dying again and again (its
 * replacement dying too), not an agent whose replicas each died once.
 */

export interface Started {
  process: string;
  at: number;
}

/** A death: of which process, when, and whether the process itself came back (a pod restart) */
export interface ReplicaDeath {
  process: string;
  at: number;
  inPlace: boolean;
}

export interface Lineage<D extends ReplicaDeath> {
  deaths: D[];
  /** Its processes, oldest first */
  processes: string[];
}

export function lineages<D extends ReplicaDeath>(
  deaths: D[],
  starts: Started[],
): Lineage<D>[] {
  const out: Lineage<D>[] = [];
  const of = new Map<string, Lineage<D>>();
  const claimed = new Set<string>();
  const sortedStarts = [...starts].sort((a, b) => a.at - b.at);
  for (const d of [...deaths].sort((a, b) => a.at - b.at)) {
    let line = of.get(d.process);
    if (line === undefined) {
      line = { deaths: [], processes: [d.process] };
      out.push(line);
      of.set(d.process, line);
      claimed.add(d.process);
    }
    line.deaths.push(d);
    if (d.inPlace) continue;
    // Its replacement: the first process started since, of no lineage yet
    const next = sortedStarts.find((s) =>
      s.at >= d.at && !claimed.has(s.process) && s.process !== d.process
    );
    if (next !== undefined) {
      claimed.add(next.process);
      of.set(next.process, line);
      line.processes.push(next.process);
    }
  }
  return out;
}
