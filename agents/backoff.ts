/** The delay before retry `attempt` (0 for the first): `firstMs` doubled per attempt, at most `maxMs` */
export function backoffMs(attempt: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.min(Math.max(0, attempt), 30));
}
