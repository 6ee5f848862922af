/**
 * A fleet of workers: `worker-01`, `worker-02`... each the same worker under its own name, queue
 * and consumer group, so a test or the eval can run ten or fifty agents without writing them.
 */

import type { AgentModule } from "../agent_module.ts";
import { createWorker } from "./worker.ts";

/** A fleet worker's name: `worker-` and two or three digits */
export function isFleetWorker(name: string): boolean {
  return /^worker-\d{2,3}$/.test(name);
}

/** The names of the first `count` fleet workers: worker-01, worker-02... */
export function fleetWorkerNames(count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 999) {
    throw new RangeError(`Invalid fleet size "${count}": expected a whole number from 1 to 999`);
  }
  const width = count > 99 ? 3 : 2;
  return Array.from({ length: count }, (_, i) => `worker-${String(i + 1).padStart(width, "0")}`);
}

/** The fleet worker of that name, or undefined when the name is no fleet worker's */
export function fleetWorker(name: string): AgentModule | undefined {
  return isFleetWorker(name)
    ? createWorker(name, `Worker ${name.slice("worker-".length)}. Answer the task in a line`)
    : undefined;
}
