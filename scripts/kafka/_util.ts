/** Small helpers of the broker's commands: logging, times, running */

import { join } from "node:path";
import { REPO_ROOT } from "./paths.ts";
import type { Env } from "./settings.ts";

export function logToStderr(line: string): void {
  console.error(line);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Runs a command to completion; its output is returned, not shown */
export async function run(
  command: string,
  args: string[],
  what: string,
): Promise<{ code: number; output: string }> {
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(command, {
      args,
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`Command "${command}" not found on PATH; it is needed to ${what}`);
    }
    throw error;
  }
  const decoder = new TextDecoder();
  const output = decoder.decode(result.stdout) + decoder.decode(result.stderr);
  return { code: result.code, output: output.trimEnd() };
}

export function javaCommand(env: Env): string {
  const home = env.get("JAVA_HOME");
  return home ? join(home, "bin", "java") : "java";
}
