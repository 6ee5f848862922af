/**
 * Test helper: a Kafka broker of the test's own, on its own ports and in its own temp dir, that a
 * test may stop and start again (the shared broker of `deno task kafka` must never be stopped).
 * It uses the jars `scripts/kafka.ts` caches; its data dir survives a restart.
 */

import { join } from "node:path";
import { ensureKafkaJars } from "../../scripts/kafka.ts";

/** A free TCP port on 127.0.0.1 whose next port is free too (the controller listens there) */
export function freePortPair(): number {
  for (let i = 0; i < 50; i++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    try {
      Deno.listen({ hostname: "127.0.0.1", port: port + 1 }).close();
      if (port < 65_000) return port;
    } catch { /* taken: try another */ }
  }
  throw new Error("No free pair of ports on 127.0.0.1");
}

export class OwnBroker {
  #child: Deno.ChildProcess | undefined;

  private constructor(readonly dir: string, readonly port: number, readonly libs: string) {}

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Formats a new broker's storage (not started yet) */
  static async create(port = freePortPair()): Promise<OwnBroker> {
    const libs = await ensureKafkaJars();
    const dir = await Deno.makeTempDir({ prefix: "observer-broker-" });
    const broker = new OwnBroker(dir, port, libs);
    await Deno.writeTextFile(
      join(dir, "server.properties"),
      [
        "process.roles=broker,controller",
        "node.id=1",
        `controller.quorum.voters=1@127.0.0.1:${port + 1}`,
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${port + 1}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        `log.dirs=${join(dir, "data")}`,
        "num.partitions=1",
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      join(dir, "log4j2.properties"),
      "status = warn\nappender.o.type = Console\nappender.o.name = O\n" +
        "appender.o.layout.type = PatternLayout\nappender.o.layout.pattern = %p %m%n\n" +
        "rootLogger.level = WARN\nrootLogger.appenderRef.o.ref = O\n",
    );
    const format = await new Deno.Command("java", {
      args: [
        `-Dlog4j2.configurationFile=${join(dir, "log4j2.properties")}`,
        "-cp",
        join(libs, "*"),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        "b2JzZXJ2ZXItdGVzdC0xMg",
        "-c",
        join(dir, "server.properties"),
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (format.code !== 0) {
      throw new Error(`Cannot format the broker: ${new TextDecoder().decode(format.stderr)}`);
    }
    return broker;
  }

  /** Starts the broker (returns at once: clients wait for it) */
  start(): void {
    if (this.#child !== undefined) throw new Error("The broker is running already");
    this.#child = new Deno.Command("java", {
      args: [
        "-Xmx384m",
        "-Xms128m",
        `-Dlog4j2.configurationFile=${join(this.dir, "log4j2.properties")}`,
        "-cp",
        join(this.libs, "*"),
        "kafka.Kafka",
        join(this.dir, "server.properties"),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  }

  /** Stops the broker: SIGTERM (a clean shutdown) or SIGKILL (a crash) */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined) return;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 30_000);
    await child.status;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop("SIGKILL");
    // cleanup: the directory may not exist; a test's result does not hang on it
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
