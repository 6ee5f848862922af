/**
 * Resolves after `ms` milliseconds, or as soon as `signal` is aborted; never rejects, so a loop
 * that backs off still stops at once. A caller that must stop on abort checks the signal after.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done);
  });
}
