import assert from "node:assert/strict";
import { parseQuantity } from "./k8s_quantity.ts";

Deno.test("kubernetes quantities convert to millicores and bytes", () => {
  assert.equal(parseQuantity("250m"), 0.25);
  assert.equal(parseQuantity("2"), 2);
  assert.equal(parseQuantity("1500000n"), 0.0015);
  assert.equal(parseQuantity("64Mi"), 64 * 1024 * 1024);
  assert.equal(parseQuantity("1k"), 1000);
  assert.equal(parseQuantity("12x"), undefined);
});
