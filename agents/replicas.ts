/**
 * How many processes the supervisor runs of each agent: `--replicas N` (every agent), or
 * `N,agent=M,...` (a default, then the agents that differ), like a Deployment's `replicas` per
 * agent. Replicas of one agent are separate processes in the same consumer group.
 */

/** Processes per agent: `byAgent` where it names the agent, else `all` */
export interface ReplicaCounts {
  all: number;
  byAgent: Readonly<Record<string, number>>;
}

/** One process of every agent */
export const ONE_REPLICA: ReplicaCounts = { all: 1, byAgent: {} };

/** Most processes of one agent that `parseReplicas` accepts */
export const MAX_REPLICAS = 64;

function count(text: string, spec: string): number {
  const n = Number(text);
  if (text === "" || !Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) {
    throw new RangeError(
      `Invalid replica count "${text}" in "${spec}": expected a whole number from 1 to ${MAX_REPLICAS}`,
    );
  }
  return n;
}

/** Parses `N` or `N,agent=M,...` (the default may be left out: `agent=M` alone means 1 else) */
export function parseReplicas(spec: string): ReplicaCounts {
  const parts = spec.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0) {
    throw new SyntaxError(`Empty replica spec "${spec}": expected N or N,agent=M`);
  }
  let all = 1;
  const byAgent: Record<string, number> = {};
  for (const [i, part] of parts.entries()) {
    const eq = part.indexOf("=");
    if (eq < 0) {
      if (i !== 0) {
        throw new SyntaxError(
          `Replica count "${part}" in "${spec}" must come first or name its agent`,
        );
      }
      all = count(part, spec);
      continue;
    }
    const agent = part.slice(0, eq).trim();
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(agent)) {
      throw new SyntaxError(`Invalid agent name "${agent}" in replica spec "${spec}"`);
    }
    if (agent in byAgent) throw new SyntaxError(`Agent "${agent}" named twice in "${spec}"`);
    byAgent[agent] = count(part.slice(eq + 1).trim(), spec);
  }
  return { all, byAgent };
}

/** How many processes of `agent` to run */
export function replicasOf(counts: ReplicaCounts, agent: string): number {
  return counts.byAgent[agent] ?? counts.all;
}
