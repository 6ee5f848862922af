/**
 * What the eval needs of an agent system that was NOT written with our runtime (the A2A SDKs,
 * CloudEvents, a team's own JSON): how to install it, which topics and agents it has, how to run
 * one of its agents as a process, what the observer must be told to read it, and a client that
 * sends requests the way its own users would. Each system lives in its own folder beside this file
 * (`a2a_python/`, `a2a_js/`, `custom_json/`) and exports one `ForeignSystem`.
 *
 * Faults are injected by the system's own code from FOREIGN_FAULTS, a list such as
 * `summarizer=fail429(every=3),search=slow(ms=5000)`, in every agent's environment:
 * - `fail429(every=N)`: every Nth task fails the way an upstream rate limit fails (HTTP 429);
 * - `slow(ms=N)`: each task takes N ms before it is answered;
 * - `input_required`: each task is answered "input required" (waiting on a human), never done.
 * Faults from outside (SIGKILL, SIGSTOP, an agent never started) are the eval's.
 */

export interface ForeignAnswer {
  /** The request's id as the client knows it (its message id) */
  request: string;
  /** How the system answered: done, failed (with its text), waiting on a human, or nothing */
  outcome: "completed" | "failed" | "input_required" | "timeout";
  text: string;
}

export interface ForeignSystem {
  /** Short name: `a2a-python`, `a2a-js`, `custom-json` */
  name: string;
  /** The agents it runs as processes, the entry agent first */
  agents: readonly string[];
  /** The name of the requester's own inbox (where answers come back), not an agent's */
  userInbox: string;
  /** The topic an agent (or the user inbox) reads, for a run isolated by `run` (a unique id) */
  topic(agent: string, run: string): string;
  /** The consumer group an agent's process reads its topic in */
  group(agent: string, run: string): string;
  /**
   * Installs what it needs (a venv, npm packages) in a cache outside the repository; idempotent,
   * fast when cached. `log` receives progress lines.
   */
  install(log: (line: string) => void): Promise<void>;
  /** The command line that runs one agent (the eval's supervisor runs it and restarts it) */
  command(agent: string): string[];
  /**
   * Environment of every agent process and the client, besides KAFKA_BOOTSTRAP_SERVERS; an agent
   * that keeps state on disk keeps it under `stateDir` (the run's own, removed after it)
   */
  env(run: string, stateDir?: string): Record<string, string>;
  /**
   * The observer's settings to read this system (KAFKA_TOPIC_PATTERN, OBSERVER_USER_INBOX,
   * OBSERVER_MAPPINGS...), as a user would set them
   */
  observerEnv(run: string): Record<string, string>;
  /**
   * Sends one request per prompt to the entry agent as the system's own client would, and waits
   * for each answer until `timeoutMs` (an unanswered request is `timeout`)
   */
  ask(
    bootstrap: string,
    run: string,
    prompts: string[],
    timeoutMs: number,
  ): Promise<ForeignAnswer[]>;
}
