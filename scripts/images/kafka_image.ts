/**
 * The stand-in for apache/kafka:4.1.1, which k8s/deployment.yaml names: Debian's JRE 17, the Kafka
 * jars from Maven Central (scripts/images/kafka/pom.xml: the broker's, as scripts/kafka/pom.xml,
 * plus kafka-tools), the scripts the manifest's Job runs under /opt/kafka/bin, and a start command
 * (/etc/kafka/docker/run) that turns the manifest's KAFKA_* variables and CLUSTER_ID into the
 * broker's configuration as the official image does. It runs as appuser (1000), like the
 * official image and the manifest.
 */

import { join } from "node:path";
import { ensureMavenJars, kafkaVersion } from "../kafka/jars.ts";
import { buildah, commitFrom, log, storedImage } from "./buildah.ts";
import type { Built } from "./debian.ts";
import { hashFiles, hashInputs } from "./inputs.ts";
import { KAFKA_FILES, KAFKA_POM } from "./settings.ts";

const SETUP = [
  "set -eu",
  "groupadd --gid 1000 appuser",
  "useradd --uid 1000 --gid appuser --shell /bin/bash --create-home appuser",
  "mkdir -p /var/lib/kafka/data /opt/kafka/logs",
  "chmod 755 /opt/kafka/bin/*.sh /etc/kafka/docker/run /etc/kafka/docker/properties",
  "chown -R appuser:appuser /opt/kafka/config /opt/kafka/logs /var/lib/kafka",
].join("\n");

const CONFIG = [
  "--user",
  "appuser",
  "--workingdir",
  "/opt/kafka",
  "--port",
  "9092",
  "--cmd",
  '["/etc/kafka/docker/run"]',
] as const;

/** The jars, checked to be the version the image is named for */
async function jars(version: string): Promise<string> {
  const pinned = await kafkaVersion(KAFKA_POM);
  const broker = await kafkaVersion();
  if (pinned !== version || broker !== version) {
    throw new Error(
      `Kafka image "${version}" needs kafka.version ${version} in "${KAFKA_POM}" (found ` +
        `"${pinned}") and in scripts/kafka/pom.xml (found "${broker}")`,
    );
  }
  return await ensureMavenJars(KAFKA_POM, `kafka-image-${version}`, Deno.env, log);
}

/** Builds the Kafka image `ref` (e.g. localhost/apache/kafka:4.1.1) unless it is up to date */
export async function ensureKafka(ref: string, jreId: string): Promise<Built> {
  const version = ref.slice(ref.lastIndexOf(":") + 1);
  const libs = await jars(version);
  const inputs = await hashInputs({
    base: jreId,
    libs: await hashFiles(libs, ["."]),
    files: await hashFiles(KAFKA_FILES, ["bin", "config", "docker"]),
    setup: SETUP,
    config: CONFIG.join(" "),
  });
  const stored = await storedImage(ref);
  if (stored?.inputs === inputs) return { id: stored.id, cached: true };
  const id = await commitFrom(jreId, ref, inputs, "kafka", async (container) => {
    await buildah(["copy", container, libs, "/opt/kafka/libs"], "kafka");
    await buildah(["copy", container, join(KAFKA_FILES, "bin"), "/opt/kafka/bin"], "kafka");
    await buildah(["copy", container, join(KAFKA_FILES, "config"), "/opt/kafka/config"], "kafka");
    await buildah(["copy", container, join(KAFKA_FILES, "docker"), "/etc/kafka/docker"], "kafka");
    await buildah(["run", "--isolation", "chroot", container, "--", "sh", "-c", SETUP], "kafka");
    await buildah(["config", ...CONFIG, container], "kafka");
  });
  return { id, cached: false };
}
