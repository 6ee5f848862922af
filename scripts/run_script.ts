/** Test support: a script's command line run as a subprocess under NO_COLOR, as a user runs it */

/** What a finished command printed and how it ended */
export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run --allow-all SCRIPT ARGS` with `env` on top of this process's environment */
export async function runScript(
  script: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<ScriptRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script, ...args],
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
