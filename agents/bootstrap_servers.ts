/**
 * Where the Kafka brokers are, with one meaning for every process (agents, `submit`, the observer,
 * `deno task kafka`, tests): the servers `KAFKA_BOOTSTRAP_SERVERS` lists when it is set, else the
 * local broker `deno task kafka` runs on 127.0.0.1:`KAFKA_PORT` (default 9092).
 *
 * The entries are not checked here: the observer's configuration and `deno task kafka` each refuse
 * one that is not `host:port`.
 */

/** The local broker's client port when `KAFKA_PORT` is unset */
export const DEFAULT_KAFKA_PORT = 9092;

/** The servers `KAFKA_BOOTSTRAP_SERVERS` lists (comma separated, blanks dropped); [] when unset */
export function configuredBootstrapServers(
  env: { get(key: string): string | undefined } = Deno.env,
): string[] {
  return (env.get("KAFKA_BOOTSTRAP_SERVERS") ?? "").split(",")
    .map((server) => server.trim())
    .filter((server) => server.length > 0);
}

/**
 * The local broker's client port: `KAFKA_PORT`, default 9092. Its controller listens on the next
 * port, so 65535 is refused too.
 */
export function kafkaPort(env: { get(key: string): string | undefined } = Deno.env): number {
  const raw = env.get("KAFKA_PORT")?.trim();
  if (raw === undefined || raw === "") return DEFAULT_KAFKA_PORT;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65534) {
    throw new RangeError(`Invalid KAFKA_PORT "${raw}": expected an integer from 1 to 65534`);
  }
  return port;
}

/**
 * Kafka brokers to talk to, `host:port` each: `KAFKA_BOOTSTRAP_SERVERS`, else
 * 127.0.0.1:`KAFKA_PORT` (default 9092). `KAFKA_PORT` is read only when it is needed, and a bad
 * one is a RangeError naming it.
 */
export function bootstrapServers(
  env: { get(key: string): string | undefined } = Deno.env,
): string[] {
  const configured = configuredBootstrapServers(env);
  return configured.length > 0 ? configured : [`127.0.0.1:${kafkaPort(env)}`];
}
