/**
 * Kubernetes resource quantities ("250m" of a CPU, "64Mi" of memory) as plain numbers: decimal
 * and binary suffixes, and exponents, as `resource.Quantity` writes them.
 */

const QUANTITY_SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a Kubernetes quantity ("250m", "1", "12345n", "64Mi", "1e3"), or undefined */
export function parseQuantity(text: string): number | undefined {
  const match =
    /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/
      .exec(text.trim());
  if (!match || match[1] === undefined) return undefined;
  const factor = QUANTITY_SUFFIX[match[2] ?? ""];
  return factor === undefined ? undefined : Number(match[1]) * factor;
}
