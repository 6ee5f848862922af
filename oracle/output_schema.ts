/**
 * The check of `--format json` output against the committed schema
 * (`oracle/schema/oracle_output.schema.json`) by ajv, a maintained validator (JSON Schema draft
 * 2020-12). Strict: a keyword ajv does not know makes the schema fail to compile instead of being
 * ignored. For the tests and eval: the CLI itself checks with json_schema.ts, its module graph
 * holding no npm package; json_schema_test.ts shows the two agree. The one file importing ajv.
 */

import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import schema from "./schema/oracle_output.schema.json" with { type: "json" };

let compiled: ValidateFunction | undefined;

/** The committed schema, compiled once */
function validator(): ValidateFunction {
  // strictRequired is off: the schema lists some required keys without describing their values
  compiled ??= new Ajv2020({ allErrors: true, strict: true, strictRequired: false })
    .compile(schema);
  return compiled;
}

/** `/findings/0/kind` as `$.findings[0].kind` */
function pathOf(pointer: string): string {
  if (pointer === "") return "$";
  return "$" + pointer.slice(1).split("/").map((part) => {
    const key = part.replaceAll("~1", "/").replaceAll("~0", "~");
    return /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
  }).join("");
}

function describe(error: ErrorObject): string {
  const params = Object.keys(error.params).length > 0 ? ` ${JSON.stringify(error.params)}` : "";
  return `${pathOf(error.instancePath)}: ${error.message ?? error.keyword}${params}`;
}

/** Where `doc` breaks the committed schema, as ajv tells it; empty when it is valid */
export function outputErrors(doc: unknown): ErrorObject[] {
  const validate = validator();
  if (validate(doc)) return [];
  return [...(validate.errors ?? [])];
}

/** Where `doc` breaks the committed schema, as `path: message` lines; empty when it is valid */
export function outputProblems(doc: unknown): string[] {
  return outputErrors(doc).map(describe);
}
