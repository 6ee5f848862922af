import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { parseInspect } from "./buildah.ts";

const ID = "35e76dd541013691cf8615a4b8261a009d482783b340f110b9b88fa15ea1ab98";

Deno.test("parseInspect reads the image id and the inputs label of buildah inspect", () => {
  const inspect = {
    Type: "buildah 0.0.1",
    FromImage: "localhost/mat-debian:bookworm",
    FromImageID: ID,
    OCIv1: {
      config: {
        Env: ["PATH=/usr/bin:/bin"],
        Labels: { "dev.multi-agent-telemetry.inputs": "96e4ff44", "io.buildah.version": "1.28.2" },
      },
    },
  };
  assertEquals(parseInspect(inspect, "localhost/mat-debian:bookworm"), {
    id: ID,
    inputs: "96e4ff44",
  });
});

Deno.test("parseInspect gives no inputs for an image without the label", () => {
  const inspect = { FromImageID: ID, OCIv1: { config: {} } };
  assertEquals(parseInspect(inspect, "x"), { id: ID, inputs: undefined });
});

Deno.test("parseInspect rejects output without an image id, naming the image", () => {
  throws(() => parseInspect({ FromImageID: "abc" }, "localhost/x:1"), {
    name: "SyntaxError",
    message: `"buildah inspect localhost/x:1" holds no FromImageID of 64 hex digits`,
  });
});
