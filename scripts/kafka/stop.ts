/** `stop`: ends the local broker that `start` spawned, and leaves any other broker alone */

import { logToStderr, seconds } from "./_util.ts";
import { brokerAnswers } from "./admin.ts";
import { brokerPid, children, isAlive } from "./broker_process.ts";
import { PID_FILE } from "./paths.ts";
import { type Env, kafkaSettings } from "./settings.ts";
import { sleep } from "@mat/agents/support";
import { removeIfPresent } from "../files.ts";

const STOP_TIMEOUT_MS = 30_000;

export interface StopOptions {
  env?: Env;
  log?: (line: string) => void;
}

/** Stops the local broker: SIGTERM, then SIGKILL after 30 s. Returns whether one was running */
export async function stopKafka(options: StopOptions = {}): Promise<boolean> {
  const env = options.env ?? Deno.env;
  const log = options.log ?? logToStderr;
  const settings = kafkaSettings(env);
  if (!settings.managed) {
    log("kafka: KAFKA_BOOTSTRAP_SERVERS is set: no local broker is managed, nothing to stop");
    return false;
  }
  const pid = await brokerPid();
  if (pid === undefined) {
    const other = await brokerAnswers(settings.brokers);
    log(
      other
        ? `kafka: not running here (no ${PID_FILE}); the broker answering on ${
          settings.brokers[0]
        } was not started by this script and is left alone`
        : "kafka: not running",
    );
    return false;
  }

  const began = performance.now();
  const spawned = children.get(pid);
  const exited = async (ms: number): Promise<boolean> => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!(await isAlive(pid))) return true;
      await sleep(100);
    }
    return !(await isAlive(pid));
  };
  log(`kafka: stopping broker (pid ${pid})`);
  try {
    Deno.kill(pid, "SIGTERM");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (!(await exited(STOP_TIMEOUT_MS))) {
    log(`kafka: broker did not exit within ${seconds(STOP_TIMEOUT_MS)}: sending SIGKILL`);
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // It exited meanwhile
    }
    if (!(await exited(5_000))) throw new Error(`Kafka broker (pid ${pid}) survived SIGKILL`);
  }
  if (spawned) {
    // the broker was killed: only its exit is awaited, not its status
    await spawned.child.status.catch(() => {});
    children.delete(pid);
  }
  await removeIfPresent(PID_FILE);
  log(`kafka: stopped broker (pid ${pid}) in ${seconds(performance.now() - began)}`);
  return true;
}
