/** The four sample agents and the fleet workers (`worker-01`...), by name. */

import type { AgentModule } from "../agent_module.ts";
import { createOrchestrator } from "./orchestrator.ts";
import { coder, researcher, writer } from "./worker.ts";
import { fleetWorker } from "./fleet.ts";

export { fleetWorkerNames, isFleetWorker } from "./fleet.ts";

export function sampleAgent(
  name: string,
  env: { get(key: string): string | undefined } = Deno.env,
): AgentModule | undefined {
  switch (name) {
    case "orchestrator": {
      const step = Number(env.get("ORCHESTRATOR_STEP_TIMEOUT_MS") ?? "20000");
      const attempts = Number(env.get("ORCHESTRATOR_MAX_ATTEMPTS") ?? "3");
      return createOrchestrator({
        stepTimeoutMs: Number.isFinite(step) && step > 0 ? step : 20_000,
        maxAttempts: Number.isInteger(attempts) && attempts > 0 ? attempts : 3,
      });
    }
    case "researcher":
      return researcher;
    case "writer":
      return writer;
    case "coder":
      return coder;
    default:
      return fleetWorker(name);
  }
}
