/**
 * The npm packages the agents use, loaded in this one CommonJS file with `require` (each package
 * ships a CommonJS build: @a2a-js/sdk `dist/server/index.cjs`, cloudevents and kafkajs are
 * CommonJS) and handed to the ESM files as one object.
 *
 * Why not `import ... from "cloudevents"` in the ESM files: this folder lives in a Deno
 * repository whose `deno check eval` type-checks every JavaScript file under `eval/`, and Deno
 * cannot resolve an npm package that has no entry in its import map; it does not follow
 * `require`. Node resolves these exactly as it would resolve the imports, from the node_modules
 * the install put beside the sources, and tsc (`npm run check`) still types them.
 */
"use strict";

module.exports = {
  a2aServer: require("@a2a-js/sdk/server"),
  cloudevents: require("cloudevents"),
  kafkajs: require("kafkajs"),
};
