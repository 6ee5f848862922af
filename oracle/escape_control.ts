/**
 * Text from records, made safe to print: every control character (C0 including newline and tab,
 * DEL, C1, and the Unicode line and paragraph separators) is written as an escape, so a record
 * cannot clear the screen, move the cursor or forge a line of the oracle's own output.
 */

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const NAMED = new Map([["\n", "\\n"], ["\r", "\\r"], ["\t", "\\t"]]);

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED.get(c) ??
    (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`);
}

/** The text with its control characters escaped (`\n`, `\x1b`, `\x9b`, `\u2028`...) */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, escapeOne);
}
