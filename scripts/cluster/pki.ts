/**
 * The cluster's certificates, made once with openssl and kept in `.cluster/pki/`: a CA, and
 * kube-apiserver's serving certificate for every name it is reached by (127.0.0.1 from this
 * machine, the bridge's address and the `kubernetes` Service from pods). kube-apiserver's own
 * `--cert-dir` certificate names only its advertised address and localhost, not 127.0.0.1.
 */

import { join } from "node:path";
import { paths, POD_GATEWAY, SERVICE_CIDR } from "./paths.ts";
import { run } from "./process.ts";
import { exists } from "../files.ts";

export const pki = {
  caKey: join(paths.pki, "ca.key"),
  caCert: join(paths.pki, "ca.crt"),
  apiServerKey: join(paths.pki, "apiserver.key"),
  apiServerCert: join(paths.pki, "apiserver.crt"),
  kubeletClientKey: join(paths.pki, "apiserver-kubelet-client.key"),
  kubeletClientCert: join(paths.pki, "apiserver-kubelet-client.crt"),
  saKey: join(paths.pki, "sa.key"),
  saPub: join(paths.pki, "sa.pub"),
  tokens: join(paths.pki, "tokens.csv"),
} as const;

/** The first address of the Service range: the `kubernetes` Service's ClusterIP */
export function firstServiceIp(cidr: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/\d+$/.exec(cidr);
  if (!match) throw new RangeError(`Cannot parse Service CIDR "${cidr}": expected a.b.c.d/n`);
  return `${match[1]}.${match[2]}.${match[3]}.${Number(match[4]) + 1}`;
}

async function signed(
  name: string,
  key: string,
  cert: string,
  subject: string,
  extensions: readonly string[],
): Promise<void> {
  await run("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    key,
  ]);
  const csr = join(paths.pki, `${name}.csr`);
  const ext = join(paths.pki, `${name}.ext`);
  await run("openssl", ["req", "-new", "-key", key, "-subj", subject, "-out", csr]);
  await Deno.writeTextFile(ext, extensions.join("\n") + "\n");
  await run("openssl", [
    ...["x509", "-req", "-in", csr, "-CA", pki.caCert, "-CAkey", pki.caKey, "-CAcreateserial"],
    ...["-days", "3650", "-extfile", ext, "-out", cert],
  ]);
}

/**
 * Makes, unless they exist, the CA, kube-apiserver's serving certificate and its client
 * certificate for the kubelet's API (group system:masters, which the kubelet's webhook
 * authorization lets read logs and exec)
 */
export async function ensureCertificates(): Promise<void> {
  await Deno.mkdir(paths.pki, { recursive: true, mode: 0o700 });
  if ((await exists(pki.caCert)) && (await exists(pki.kubeletClientCert))) return;
  await run("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    pki.caKey,
  ]);
  await run("openssl", [
    ...["req", "-x509", "-new", "-key", pki.caKey, "-days", "3650"],
    ...["-subj", "/CN=multi-agent-telemetry-dev-ca", "-out", pki.caCert],
  ]);
  const names = [
    "IP:127.0.0.1",
    `IP:${POD_GATEWAY}`,
    `IP:${firstServiceIp(SERVICE_CIDR)}`,
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
  ];
  await signed("apiserver", pki.apiServerKey, pki.apiServerCert, "/CN=kube-apiserver", [
    `subjectAltName=${names.join(",")}`,
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
  ]);
  await signed(
    "apiserver-kubelet-client",
    pki.kubeletClientKey,
    pki.kubeletClientCert,
    "/O=system:masters/CN=kube-apiserver-kubelet-client",
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=clientAuth",
    ],
  );
}
