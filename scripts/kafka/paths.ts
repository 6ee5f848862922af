/** Where the local broker's files are: its pom in the repo, its state in `.kafka/` (git-ignored) */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT: string = fileURLToPath(new URL("../..", import.meta.url));
/** The pom pinning the broker's jars (`kafka.version`) */
export const POM_FILE: string = join(REPO_ROOT, "scripts", "kafka", "pom.xml");
/** Where the local broker keeps its config, data, log and pid */
export const STATE_DIR: string = join(REPO_ROOT, ".kafka");
export const DATA_DIR: string = join(STATE_DIR, "data");
export const SERVER_PROPERTIES: string = join(STATE_DIR, "server.properties");
export const LOG4J_CONFIG: string = join(STATE_DIR, "log4j2.properties");
export const LOG_FILE: string = join(STATE_DIR, "kafka.log");
export const PID_FILE: string = join(STATE_DIR, "kafka.pid");
export const LOCK_FILE: string = join(STATE_DIR, "start.lock");
