/**
 * A real Kubernetes API server for tests, without a cluster:
 * `deno run -A scripts/kube_apiserver.ts build|start|stop|status`.
 *
 * kube-apiserver, etcd and kubectl are built from the Go module proxy (the wrapper module in
 * scripts/kube/) into `${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry/kube/<key>/`, where
 * the key names the Kubernetes and etcd versions and a hash of the module's sources; a build is
 * skipped when that directory is complete. `startKubeApiServer` runs etcd and kube-apiserver on
 * free loopback ports with the flags controller-runtime's envtest uses, waits for `/readyz` and
 * writes a kubeconfig with an admin token (group `system:masters`) and the server's own CA. There
 * is no kubelet, scheduler or controller manager: tests create objects and fake what those would
 * write (a pod's `status`, say) through the API.
 *
 * `start` (the CLI) keeps its processes running in `.kube-test/` until `stop`; the servers a test
 * starts live in a temporary directory and are killed by a watchdog if the test process dies
 * without calling `stop()`.
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The Kubernetes release the wrapper module pins (`k8s.io/kubernetes` and its staging modules) */
export const KUBERNETES_VERSION = "v1.34.4";
/** The etcd release, the one Kubernetes v1.34.4 itself requires */
export const ETCD_VERSION = "v3.6.4";

/** Something to read environment variables from: `Deno.env`, or a stub in tests */
export interface Env {
  get(key: string): string | undefined;
}

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The Go wrapper module with one `main.go` per binary */
export const MODULE_DIR: string = join(REPO_ROOT, "scripts", "kube");
/** Where the CLI's `start` keeps its server's data, certs, logs, kubeconfig and pids */
export const STATE_DIR: string = join(REPO_ROOT, ".kube-test");
const STATE_FILE = join(STATE_DIR, "state.json");

const BINARY_NAMES = ["kube-apiserver", "etcd", "kubectl"] as const;
type BinaryName = typeof BINARY_NAMES[number];
const COMPLETE_MARKER = "complete.json";

const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;
const POLL_MS = 250;
/** Service account token issuer, signing key and admin token are made per start; this is the user */
const ADMIN_USER = "kube-test-admin";

function log(line: string): void {
  console.error(`kube: ${line}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && info.mode !== null && (info.mode & 0o111) !== 0;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function tail(path: string, lines = 40): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.split("\n").slice(-lines).join("\n");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "(no log written)";
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Building the binaries
// ---------------------------------------------------------------------------------------------

/** Paths of the three binaries, all from one cache directory */
export interface KubeBinaries {
  dir: string;
  kubeApiServer: string;
  etcd: string;
  kubectl: string;
}

/** `${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry/kube` */
export function cacheRoot(env: Env): string {
  const xdg = env.get("XDG_CACHE_HOME")?.trim();
  if (xdg) return join(xdg, "multi-agent-telemetry", "kube");
  const home = env.get("HOME")?.trim();
  if (!home) {
    throw new Error("Neither XDG_CACHE_HOME nor HOME is set: no place to cache the kube binaries");
  }
  return join(home, ".cache", "multi-agent-telemetry", "kube");
}

/** `-X` flags giving the binaries their real version instead of `v0.0.0-master` */
function versionLdflags(): string[] {
  const [major, minor] = KUBERNETES_VERSION.replace(/^v/, "").split(".");
  const flags: string[] = [];
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
    flags.push(
      `-X ${pkg}.gitVersion=${KUBERNETES_VERSION}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    );
  }
  return flags;
}

/** `go build` flags of every binary: trimmed paths, stripped, with the real version */
export const BUILD_ARGS: readonly string[] = [
  "build",
  "-trimpath",
  `-ldflags=-s -w ${versionLdflags().join(" ")}`,
];

/** A short hash of the wrapper module's sources and build flags: a new one means a new build */
async function sourceKey(): Promise<string> {
  const parts: string[] = [JSON.stringify(BUILD_ARGS)];
  for (const file of ["go.mod", "go.sum", ...BINARY_NAMES.map((name) => `${name}/main.go`)]) {
    parts.push(file, await Deno.readTextFile(join(MODULE_DIR, file)));
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** The cache directory for the current sources: `.../kube/k8s-v1.34.4-etcd-v3.6.4-<hash>` */
export async function binaryDir(env: Env = Deno.env): Promise<string> {
  return join(
    cacheRoot(env),
    `k8s-${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}-${await sourceKey()}`,
  );
}

function binariesIn(dir: string): KubeBinaries {
  return {
    dir,
    kubeApiServer: join(dir, "kube-apiserver"),
    etcd: join(dir, "etcd"),
    kubectl: join(dir, "kubectl"),
  };
}

/** The cached binaries, or undefined when they have not been built for the current sources */
export async function cachedKubeBinaries(env: Env = Deno.env): Promise<KubeBinaries | undefined> {
  const dir = await binaryDir(env);
  if (!(await exists(join(dir, COMPLETE_MARKER)))) return undefined;
  for (const name of BINARY_NAMES) {
    if (!(await isExecutableFile(join(dir, name)))) return undefined;
  }
  return binariesIn(dir);
}

/** The Go toolchain to build with: `$GO`, `go` on PATH, or /usr/local/go/bin/go */
export async function findGo(env: Env = Deno.env): Promise<string | undefined> {
  const explicit = env.get("GO")?.trim();
  if (explicit) {
    if (await isExecutableFile(explicit)) return explicit;
    throw new Error(`GO is set to "${explicit}", which is not an executable file`);
  }
  const candidates = (env.get("PATH") ?? "").split(":").filter((dir) => dir !== "")
    .map((dir) => join(dir, "go"));
  candidates.push("/usr/local/go/bin/go");
  for (const candidate of candidates) {
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Whether `startKubeApiServer` can run here: the binaries are cached or Go can build them.
 * `reason` says why not, for a test's skip message.
 */
export async function kubeBinariesAvailability(
  env: Env = Deno.env,
): Promise<{ available: true } | { available: false; reason: string }> {
  if (await cachedKubeBinaries(env)) return { available: true };
  if (await findGo(env)) return { available: true };
  return {
    available: false,
    reason: `kube-apiserver is not built in "${await binaryDir(
      env,
    )}" and no Go toolchain was found to build it (set GO or put "go" on PATH)`,
  };
}

/**
 * The kube-apiserver, etcd and kubectl binaries, built from the Go module proxy when the cache
 * has none for the current sources. The first build takes minutes; later calls return at once.
 */
export async function ensureKubeBinaries(
  options: { env?: Env; log?: (line: string) => void } = {},
): Promise<KubeBinaries> {
  const env = options.env ?? Deno.env;
  const say = options.log ?? log;
  const cached = await cachedKubeBinaries(env);
  if (cached) return cached;

  const dir = await binaryDir(env);
  const go = await findGo(env);
  if (go === undefined) {
    throw new Error(
      `Cannot build kube-apiserver into "${dir}": no Go toolchain found (set GO or put "go" on PATH)`,
    );
  }
  const staging = `${dir}.partial-${Deno.pid}`;
  await removeIfPresent(staging);
  await Deno.mkdir(staging, { recursive: true });
  say(
    `building kube-apiserver ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION} and kubectl with ${go} ` +
      `(the first build takes several minutes)`,
  );
  const began = performance.now();
  const buildEnv: Record<string, string> = {
    GOFLAGS: "-mod=mod -buildvcs=false",
    CGO_ENABLED: "0",
  };
  const output = await new Deno.Command(go, {
    args: [...BUILD_ARGS, "-o", `${staging}/`, ...BINARY_NAMES.map((name) => `./${name}`)],
    cwd: MODULE_DIR,
    env: buildEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const elapsedMs = performance.now() - began;
  if (!output.success) {
    await removeIfPresent(staging);
    const text = new TextDecoder().decode(output.stderr).split("\n").slice(-40).join("\n");
    throw new Error(`Go build of the kube binaries failed (exit code ${output.code}):\n${text}`);
  }
  const goVersion = new TextDecoder().decode(
    (await new Deno.Command(go, { args: ["version"], stdout: "piped", stderr: "null" }).output())
      .stdout,
  ).trim();
  await Deno.writeTextFile(
    join(staging, COMPLETE_MARKER),
    JSON.stringify(
      {
        kubernetes: KUBERNETES_VERSION,
        etcd: ETCD_VERSION,
        go: goVersion,
        builtAt: new Date().toISOString(),
        buildSeconds: Math.round(elapsedMs / 1000),
      },
      null,
      2,
    ) + "\n",
  );
  try {
    await Deno.rename(staging, dir);
  } catch (error) {
    // Another process finished the same build first: keep its binaries.
    await removeIfPresent(staging);
    if (!(await cachedKubeBinaries(env))) throw error;
  }
  say(`built the kube binaries in ${seconds(elapsedMs)} into ${dir}`);
  return binariesIn(dir);
}

/**
 * A kubectl for the test server: `$KUBECTL` when set, otherwise the one built beside
 * kube-apiserver (same version, so no version skew; Debian's kubernetes-client is v1.20).
 */
export async function ensureKubectl(
  options: { env?: Env; log?: (line: string) => void } = {},
): Promise<string> {
  const env = options.env ?? Deno.env;
  const explicit = env.get("KUBECTL")?.trim();
  if (explicit) {
    if (await isExecutableFile(explicit)) return explicit;
    throw new Error(`KUBECTL is set to "${explicit}", which is not an executable file`);
  }
  return (await ensureKubeBinaries(options)).kubectl;
}

// ---------------------------------------------------------------------------------------------
// Running etcd and kube-apiserver
// ---------------------------------------------------------------------------------------------

/** Options of `startKubeApiServer` */
export interface KubeApiServerOptions {
  /** Directory for data, certs, logs and the kubeconfig; default a new temp dir, removed by stop */
  dir?: string;
  env?: Env;
  log?: (line: string) => void;
  /** How long to wait for etcd and `/readyz`; default 120 s */
  startTimeoutMs?: number;
  /** More kube-apiserver flags, appended after the defaults */
  extraApiServerArgs?: readonly string[];
  /**
   * Let the processes outlive this Deno process (the CLI's `start`). Otherwise a watchdog kills
   * them when this process dies without calling `stop()`.
   */
  detached?: boolean;
}

/** A running API server */
export interface KubeApiServer {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** kubeconfig with the admin token and the server's CA, current context `kube-test` */
  kubeconfigPath: string;
  /** Bearer token of an admin (group `system:masters`) */
  token: string;
  /** PEM of the self-signed certificates kube-apiserver made in `--cert-dir` */
  caCertPem: string;
  /** The kubectl built with the server */
  kubectl: string;
  dir: string;
  pids: { etcd: number; kubeApiServer: number };
  etcdUrl: string;
  /** Kills both processes (SIGTERM, then SIGKILL) and removes the temp dir it made */
  stop(): Promise<void>;
}

/** Three distinct loopback ports nothing listens on at the moment */
function freePorts(): { etcd: number; etcdPeer: number; apiServer: number } {
  const listen = () => Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const listeners = [listen(), listen(), listen()] as const;
  const [etcd, etcdPeer, apiServer] = listeners.map((listener) => listener.addr.port);
  for (const listener of listeners) listener.close();
  if (etcd === undefined || etcdPeer === undefined || apiServer === undefined) {
    throw new Error("Could not allocate three loopback ports");
  }
  return { etcd, etcdPeer, apiServer };
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function pem(label: string, der: ArrayBuffer): string {
  const lines = base64(new Uint8Array(der)).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** 24 random bytes as hex, for bearer tokens */
export function randomToken(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(24)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** An ECDSA P-256 service account signing key (PKCS#8) and its public key (SPKI), as PEM */
export async function serviceAccountKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  return {
    privateKey: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
    publicKey: pem("PUBLIC KEY", await crypto.subtle.exportKey("spki", pair.publicKey)),
  };
}

/** A process we started, with its exit noticed as soon as it happens */
interface Managed {
  name: BinaryName;
  child: Deno.ChildProcess;
  logFile: string;
  exited: boolean;
  status: Promise<Deno.CommandStatus>;
}

/** Runs `binary args...` with stdout and stderr appended to `logFile`; the pid is the binary's */
function spawnLogged(
  name: BinaryName,
  binary: string,
  args: readonly string[],
  logFile: string,
  detached: boolean,
): Managed {
  const child = new Deno.Command("sh", {
    args: ["-c", 'log="$1"; shift; exec "$@" >>"$log" 2>&1', "sh", logFile, binary, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  if (detached) child.unref();
  const managed: Managed = { name, child, logFile, exited: false, status: child.status };
  managed.status = child.status.then((status) => {
    managed.exited = true;
    return status;
  });
  return managed;
}

const WATCHDOG_SCRIPT = `parent="$1"; pid_file="$2"; remove_dir="$3"
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
pids=$(cat "$pid_file" 2>/dev/null)
if [ -n "$pids" ]; then
  kill -TERM $pids 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $pids 2>/dev/null || break; sleep 1; done
  kill -KILL $pids 2>/dev/null
fi
if [ -n "$remove_dir" ]; then rm -rf "$remove_dir"; fi
exit 0`;

/**
 * A shell that, once this Deno process is gone (a crashed test never calls stop), kills the
 * pids listed in `pidFile` and removes `removeDir` when given
 */
function spawnWatchdog(pidFile: string, removeDir: string | undefined): Deno.ChildProcess {
  const child = new Deno.Command("sh", {
    args: ["-c", WATCHDOG_SCRIPT, "kube-watchdog", String(Deno.pid), pidFile, removeDir ?? ""],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  return child;
}

async function terminate(process: Managed): Promise<void> {
  if (process.exited) return;
  try {
    process.child.kill("SIGTERM");
  } catch (error) {
    if (!(error instanceof TypeError)) throw error; // already exited
  }
  const timedOut = await Promise.race([
    process.status.then(() => false),
    sleep(STOP_TIMEOUT_MS).then(() => true),
  ]);
  if (timedOut && !process.exited) {
    try {
      process.child.kill("SIGKILL");
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
    }
  }
  await process.status;
}

class ProcessExitedError extends Error {
  constructor(process: Managed, logTail: string) {
    super(
      `${process.name} (pid ${process.child.pid}) exited during startup; ` +
        `the end of "${process.logFile}":\n${logTail}`,
    );
    this.name = "ProcessExitedError";
  }
}

/** Polls `probe` until it returns true, failing when a watched process exits or time runs out */
async function waitFor(
  what: string,
  deadline: number,
  watched: readonly Managed[],
  probe: () => Promise<boolean>,
): Promise<void> {
  let lastError = "";
  while (true) {
    for (const process of watched) {
      if (process.exited) throw new ProcessExitedError(process, await tail(process.logFile));
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = errorMessage(error);
    }
    if (performance.now() > deadline) {
      const logs = await Promise.all(
        watched.map(async (p) => `--- ${p.logFile}\n${await tail(p.logFile, 20)}`),
      );
      throw new Error(
        `Timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}\n` +
          logs.join("\n"),
      );
    }
    await sleep(POLL_MS);
  }
}

function kubeconfig(url: string, caCertPem: string, token: string): string {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "kube-test",
      cluster: {
        server: url,
        "certificate-authority-data": base64(new TextEncoder().encode(caCertPem)),
      },
    }],
    users: [{ name: ADMIN_USER, user: { token } }],
    contexts: [{
      name: "kube-test",
      context: { cluster: "kube-test", user: ADMIN_USER, namespace: "default" },
    }],
    "current-context": "kube-test",
    preferences: {},
  };
  // JSON is YAML: kubectl and @kubernetes/client-node both read it.
  return JSON.stringify(config, null, 2) + "\n";
}

/**
 * Starts etcd and kube-apiserver (building them first if needed) and returns once `/readyz`
 * answers 200 with the admin token.
 */
export async function startKubeApiServer(
  options: KubeApiServerOptions = {},
): Promise<KubeApiServer> {
  const env = options.env ?? Deno.env;
  const say = options.log ?? log;
  const detached = options.detached ?? false;
  const binaries = await ensureKubeBinaries({ env, log: say });
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "kube-apiserver-" });
  const began = performance.now();
  const deadline = began + (options.startTimeoutMs ?? START_TIMEOUT_MS);

  const started: Managed[] = [];
  let watchdog: Deno.ChildProcess | undefined;
  let httpClient: Deno.HttpClient | undefined;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (watchdog !== undefined) {
      try {
        watchdog.kill("SIGKILL");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
      }
      await watchdog.status;
    }
    // kube-apiserver first: it would otherwise log etcd connection errors while shutting down.
    for (const process of [...started].reverse()) await terminate(process);
    httpClient?.close();
    if (ownDir) await removeIfPresent(dir);
  };

  try {
    const etcdDataDir = join(dir, "etcd-data");
    const certDir = join(dir, "certs");
    await Deno.mkdir(etcdDataDir, { recursive: true, mode: 0o700 });
    await Deno.mkdir(certDir, { recursive: true, mode: 0o700 });
    const pidFile = join(dir, "pids");
    await Deno.writeTextFile(pidFile, "");
    if (!detached) watchdog = spawnWatchdog(pidFile, ownDir ? dir : undefined);

    const ports = freePorts();
    const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
    const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
    const etcd = spawnLogged(
      "etcd",
      binaries.etcd,
      [
        "--name=kube-test",
        `--data-dir=${etcdDataDir}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=kube-test=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      join(dir, "etcd.log"),
      detached,
    );
    started.push(etcd);
    await Deno.writeTextFile(pidFile, `${etcd.child.pid}\n`, { append: true });
    await waitFor(`etcd at ${etcdUrl}/health`, deadline, [etcd], async () => {
      const response = await fetch(`${etcdUrl}/health`);
      const body: unknown = await response.json();
      return response.ok && typeof body === "object" && body !== null &&
        (body as Record<string, unknown>).health === "true";
    });

    const keys = await serviceAccountKeyPair();
    const saKeyFile = join(certDir, "sa.key");
    const saPubFile = join(certDir, "sa.pub");
    await Deno.writeTextFile(saKeyFile, keys.privateKey, { mode: 0o600 });
    await Deno.writeTextFile(saPubFile, keys.publicKey);
    const token = randomToken();
    const tokenFile = join(dir, "tokens.csv");
    await Deno.writeTextFile(tokenFile, `${token},${ADMIN_USER},${ADMIN_USER},system:masters\n`, {
      mode: 0o600,
    });

    const url = `https://127.0.0.1:${ports.apiServer}`;
    const apiServer = spawnLogged(
      "kube-apiserver",
      binaries.kubeApiServer,
      [
        // The defaults of controller-runtime's envtest (pkg/internal/testing/controlplane) ...
        "--advertise-address=127.0.0.1",
        "--bind-address=127.0.0.1",
        `--secure-port=${ports.apiServer}`,
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${certDir}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        "--allow-privileged=true",
        // No controller manager creates the default ServiceAccount, so pods could not be made.
        "--disable-admission-plugins=ServiceAccount",
        "--authorization-mode=RBAC",
        `--service-account-issuer=${url}/`,
        `--service-account-key-file=${saPubFile}`,
        `--service-account-signing-key-file=${saKeyFile}`,
        // ... plus token authentication for the kubeconfig, and no reconciling of the
        // `kubernetes` Service's endpoints, which may not be loopback addresses.
        `--token-auth-file=${tokenFile}`,
        "--endpoint-reconciler-type=none",
        ...(options.extraApiServerArgs ?? []),
      ],
      join(dir, "kube-apiserver.log"),
      detached,
    );
    started.push(apiServer);
    await Deno.writeTextFile(pidFile, `${apiServer.child.pid}\n`, { append: true });

    const certFile = join(certDir, "apiserver.crt");
    let caCertPem = "";
    await waitFor(
      `kube-apiserver's serving certificate "${certFile}"`,
      deadline,
      started,
      async () => {
        caCertPem = await Deno.readTextFile(certFile);
        return caCertPem.includes("-----END CERTIFICATE-----");
      },
    );
    httpClient = Deno.createHttpClient({ caCerts: [caCertPem] });
    const client = httpClient;
    await waitFor(`kube-apiserver at ${url}/readyz`, deadline, started, async () => {
      const response = await fetch(`${url}/readyz`, {
        headers: { Authorization: `Bearer ${token}` },
        client,
      });
      await response.body?.cancel();
      return response.status === 200;
    });

    const kubeconfigPath = join(dir, "kubeconfig");
    await Deno.writeTextFile(kubeconfigPath, kubeconfig(url, caCertPem, token), { mode: 0o600 });
    say(
      `kube-apiserver ${KUBERNETES_VERSION} ready at ${url} in ${
        seconds(performance.now() - began)
      } (etcd pid ${etcd.child.pid}, kube-apiserver pid ${apiServer.child.pid})`,
    );
    return {
      url,
      kubeconfigPath,
      token,
      caCertPem,
      kubectl: binaries.kubectl,
      dir,
      etcdUrl,
      pids: { etcd: etcd.child.pid, kubeApiServer: apiServer.child.pid },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// The CLI: a server in .kube-test/ that outlives the command
// ---------------------------------------------------------------------------------------------

interface SavedState {
  url: string;
  kubeconfigPath: string;
  pids: { etcd: number; kubeApiServer: number };
  binaries: { etcd: string; kubeApiServer: string };
}

function parseSavedState(text: string): SavedState {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null) throw new Error("State file is not an object");
  const record = value as Record<string, unknown>;
  const pids = record.pids as Record<string, unknown> | null | undefined;
  const binaries = record.binaries as Record<string, unknown> | null | undefined;
  if (
    typeof record.url !== "string" || typeof record.kubeconfigPath !== "string" ||
    typeof pids !== "object" || pids === null || typeof pids.etcd !== "number" ||
    typeof pids.kubeApiServer !== "number" || typeof binaries !== "object" ||
    binaries === null || typeof binaries.etcd !== "string" ||
    typeof binaries.kubeApiServer !== "string"
  ) {
    throw new Error(`State file "${STATE_FILE}" does not have the expected fields`);
  }
  return {
    url: record.url,
    kubeconfigPath: record.kubeconfigPath,
    pids: { etcd: pids.etcd, kubeApiServer: pids.kubeApiServer },
    binaries: { etcd: binaries.etcd, kubeApiServer: binaries.kubeApiServer },
  };
}

async function readSavedState(): Promise<SavedState | undefined> {
  try {
    return parseSavedState(await Deno.readTextFile(STATE_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** True when `pid` is a live (not zombie) process running `binary` */
export async function isRunning(pid: number, binary: string): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    if (/\) Z /.test(stat)) return false;
    const argv0 = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0")[0];
    return argv0 === binary;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function killPid(pid: number, binary: string, name: string): Promise<void> {
  if (!(await isRunning(pid, binary))) return;
  log(`stopping ${name} (pid ${pid})`);
  Deno.kill(pid, "SIGTERM");
  const deadline = performance.now() + STOP_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (!(await isRunning(pid, binary))) return;
    await sleep(POLL_MS);
  }
  Deno.kill(pid, "SIGKILL");
  for (let i = 0; i < 20 && (await isRunning(pid, binary)); i++) await sleep(POLL_MS);
  if (await isRunning(pid, binary)) throw new Error(`${name} (pid ${pid}) survived SIGKILL`);
}

async function cliStatus(): Promise<SavedState | undefined> {
  const state = await readSavedState();
  if (state === undefined) return undefined;
  const up = (await isRunning(state.pids.kubeApiServer, state.binaries.kubeApiServer)) &&
    (await isRunning(state.pids.etcd, state.binaries.etcd));
  return up ? state : undefined;
}

async function cliStop(): Promise<void> {
  const state = await readSavedState();
  if (state !== undefined) {
    await killPid(state.pids.kubeApiServer, state.binaries.kubeApiServer, "kube-apiserver");
    await killPid(state.pids.etcd, state.binaries.etcd, "etcd");
  }
  await removeIfPresent(STATE_DIR);
}

async function cliStart(): Promise<void> {
  const running = await cliStatus();
  if (running) {
    log(`already running at ${running.url}`);
    console.log(`export KUBECONFIG=${running.kubeconfigPath}`);
    return;
  }
  await cliStop(); // a half-dead server or stale state from an earlier run
  await Deno.mkdir(STATE_DIR, { recursive: true });
  const binaries = await ensureKubeBinaries();
  const server = await startKubeApiServer({ dir: STATE_DIR, detached: true });
  const state: SavedState = {
    url: server.url,
    kubeconfigPath: server.kubeconfigPath,
    pids: server.pids,
    binaries: { etcd: binaries.etcd, kubeApiServer: binaries.kubeApiServer },
  };
  await Deno.writeTextFile(STATE_FILE, JSON.stringify(state, null, 2) + "\n");
  log(
    `logs in ${STATE_DIR}/{etcd,kube-apiserver}.log; ` +
      "stop with: deno run -A scripts/kube_apiserver.ts stop",
  );
  console.log(`export KUBECONFIG=${server.kubeconfigPath}`);
  console.log(`alias kubectl=${server.kubectl}`);
}

const USAGE = `Usage: deno run -A scripts/kube_apiserver.ts <command>

  build    Build kube-apiserver ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION} and kubectl from the Go
           module proxy (skipped when cached) and print their paths
  start    Start etcd and kube-apiserver on free loopback ports, state in .kube-test/; prints
           the KUBECONFIG to export
  stop     Stop them and remove .kube-test/
  status   Say whether they run

Environment:
  XDG_CACHE_HOME  binaries are cached in \${XDG_CACHE_HOME:-$HOME/.cache}/multi-agent-telemetry/kube
  GO              the go binary to build with (default: go on PATH, then /usr/local/go/bin/go)
  KUBECTL         a kubectl to use instead of the built one`;

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (rest.length > 0 || command === undefined) {
    console.error(`error: expected one command, got ${JSON.stringify(args)}\n\n${USAGE}`);
    return 2;
  }
  switch (command) {
    case "build": {
      const began = performance.now();
      const binaries = await ensureKubeBinaries();
      log(`binaries ready in ${seconds(performance.now() - began)}`);
      for (const name of BINARY_NAMES) console.log(join(binaries.dir, name));
      return 0;
    }
    case "start":
      await cliStart();
      return 0;
    case "stop":
      await cliStop();
      log("stopped");
      return 0;
    case "status": {
      const state = await cliStatus();
      console.log(
        state ? `running at ${state.url}, KUBECONFIG=${state.kubeconfigPath}` : "stopped",
      );
      return state ? 0 : 3;
    }
    default:
      console.error(`error: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`error: ${errorMessage(error)}`);
    Deno.exit(1);
  }
}
