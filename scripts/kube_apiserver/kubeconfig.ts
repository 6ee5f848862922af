/** The kubeconfig of a test server: its URL, its own CA and an admin bearer token */

import { base64 } from "./pki.ts";

/** Service account token issuer, signing key and admin token are made per start; this is the user */
export const ADMIN_USER = "kube-test-admin";

/** A kubeconfig (as JSON, which is YAML) whose current context `kube-test` is the admin */
export function kubeconfig(url: string, caCertPem: string, token: string): string {
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
