/** Waiting on a condition, the only way the eval waits: never a fixed sleep. */

/** Polls `test` every 100 ms until it returns a value other than undefined */
export async function until<T>(
  what: string,
  test: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await test();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
