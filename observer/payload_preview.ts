/**
 * What of a payload may reach the files: a preview capped in size, with secrets replaced by
 * `[REDACTED]` before anything is written. Two nets:
 * - by key: any field whose name looks secret (password, secret, token, api key, authorization,
 *   credential, private key, cookie, session) has its whole value replaced;
 * - by value: inside any string, things shaped like secrets (bearer tokens, `sk-...` API keys,
 *   AWS/GitHub/Slack tokens, JWTs, `password=...` pairs, PEM private keys) are replaced.
 * Malformed records (not JSON) only get the value net, over the raw text.
 */

export const REDACTED = "[REDACTED]";

const SECRET_KEY =
  /pass(word|wd|phrase)?$|secret|token|api[-_]?key|apikey|authori[sz]ation|credential|private[-_]?key|cookie|session[-_]?id|^auth$/i;

const SECRET_VALUES: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\bBearer\s+[A-Za-z0-9\-._~+/]+=*/gi,
  /\bBasic\s+[A-Za-z0-9+/]{8,}=*/g,
  /\bsk-[A-Za-z0-9_-]{16,}/g,
  /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g,
  /\b(password|passwd|pwd|secret|token|api[-_]?key|apikey)(["']?\s*[:=]\s*["']?)[^\s"',;&}]+/gi,
];

/**
 * A cheap first pass over a whole text (a payload's JSON, a raw record): every secret key and
 * every secret-shaped value above contains one of these words, so a text without any of them
 * needs neither net, and is kept as it is. (Case-insensitive, so it matches a superset.)
 */
const MAYBE_SECRET =
  /pass|pwd|secret|token|api[-_]?key|authori|credential|private|cookie|session|auth|bearer|basic|sk-|akia|asia|gh[pousr]_|xox|eyj|-----begin/i;

/** Whether a text may hold a secret (false: it surely holds none) */
export function maySecret(text: string): boolean {
  return MAYBE_SECRET.test(text);
}

export interface Redacted<T> {
  value: T;
  redactions: number;
}

/** Replaces secret-shaped substrings of a text */
export function redactText(text: string): Redacted<string> {
  if (!MAYBE_SECRET.test(text)) return { value: text, redactions: 0 };
  let redactions = 0;
  let out = text;
  for (const pattern of SECRET_VALUES) {
    out = out.replace(pattern, (...m: unknown[]) => {
      redactions++;
      const key = m[1];
      const sep = m[2];
      // `password=hunter2` keeps its name: `password=[REDACTED]`
      return typeof key === "string" && typeof sep === "string" && /[:=]/.test(sep)
        ? `${key}${sep}${REDACTED}`
        : REDACTED;
    });
  }
  return { value: out, redactions };
}

/** A deep copy of a JSON value with secret fields and secret-shaped strings replaced */
export function redactJson(value: unknown): Redacted<unknown> {
  let redactions = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") {
      const r = redactText(v);
      redactions += r.redactions;
      return r.value;
    }
    if (depth > 32 || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      if (SECRET_KEY.test(k) && item !== null && item !== "") {
        out[k] = REDACTED;
        redactions++;
      } else {
        out[k] = walk(item, depth + 1);
      }
    }
    return out;
  };
  return { value: walk(value, 0), redactions };
}

/** Cuts a text to at most `max` characters, never through a redaction marker */
export function cap(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  let cut = text.slice(0, max);
  const marker = cut.lastIndexOf("[REDA");
  if (marker >= 0 && !cut.slice(marker).includes("]")) cut = cut.slice(0, marker);
  return { text: cut, truncated: true };
}

/** The preview of a JSON payload kept in a `message` record */
export function previewJson(
  value: unknown,
  max: number,
): { preview: string; truncated: boolean; redactions: number } {
  // The payload's JSON names every key and holds every string: without a secret-looking word in
  // it there is nothing to redact, and the copy-and-walk below would give the same text.
  const plain = JSON.stringify(value) ?? "null";
  if (!MAYBE_SECRET.test(plain)) {
    const { text, truncated } = cap(plain, max);
    return { preview: text, truncated, redactions: 0 };
  }
  const r = redactJson(value);
  const { text, truncated } = cap(JSON.stringify(r.value) ?? "null", max);
  return { preview: text, truncated, redactions: r.redactions };
}

/** The preview of raw bytes kept in a `message_malformed` record */
export function previewBytes(
  bytes: Uint8Array | null,
  max: number,
): { preview: string; redactions: number } {
  if (bytes === null) return { preview: "", redactions: 0 };
  // Redact over more than is shown, so a secret cut by the cap is still caught whole.
  const text = new TextDecoder().decode(bytes.subarray(0, max * 2 + 256));
  const r = redactText(text);
  return { preview: cap(r.value, max).text, redactions: r.redactions };
}
