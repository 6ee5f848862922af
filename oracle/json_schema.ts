/**
 * A small JSON Schema (draft 2020-12 subset) validator for the oracle's own output: `type`,
 * `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`, `minimum`, `$ref`
 * to `#/$defs/...`, `oneOf` and `anyOf`. Enough for the committed schema, with no dependency: the
 * CLI's module graph holds no npm package (network_free_test.ts). A keyword outside that list is a
 * problem, never ignored. The tests check output with ajv (output_schema.ts), and
 * json_schema_test.ts shows the two give the same verdicts on the documents the oracle prints.
 */

import { isRecord } from "@mat/agents/support";

export type Schema = boolean | { [keyword: string]: unknown };

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

/** The keywords checked below, and the annotations that check nothing */
const KNOWN_KEYWORDS = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "enum",
  "const",
  "minimum",
  "$ref",
  "oneOf",
  "anyOf",
  "$schema",
  "$id",
  "$defs",
  "$comment",
  "title",
  "description",
  "default",
  "examples",
]);

function typeMatches(actual: string, wanted: string): boolean {
  return actual === wanted || (wanted === "number" && actual === "integer");
}

/** Problems of `value` against `schema`, as `path: message` strings (empty when valid) */
export function validate(root: Schema, value: unknown): string[] {
  const check = (schema: Schema, v: unknown, path: string, problems: string[]): void => {
    if (schema === true) return;
    if (schema === false) {
      problems.push(`${path}: not allowed`);
      return;
    }
    for (const keyword of Object.keys(schema)) {
      if (!KNOWN_KEYWORDS.has(keyword)) {
        problems.push(`${path}: schema keyword "${keyword}" is not supported by json_schema.ts`);
      }
    }
    const ref = schema["$ref"];
    if (typeof ref === "string") {
      const name = ref.replace(/^#\/\$defs\//, "");
      const defs = isRecord(root) ? root["$defs"] : undefined;
      const target = isRecord(defs) ? defs[name] : undefined;
      if (!isRecord(target) && typeof target !== "boolean") {
        problems.push(`${path}: unresolved $ref "${ref}"`);
        return;
      }
      check(target, v, path, problems);
    }
    const type = schema["type"];
    if (type !== undefined) {
      const wanted = Array.isArray(type) ? type.map(String) : [String(type)];
      const actual = typeOf(v);
      if (!wanted.some((w) => typeMatches(actual, w))) {
        problems.push(`${path}: expected ${wanted.join(" or ")}, got ${actual}`);
        return;
      }
    }
    if (Array.isArray(schema["enum"]) && !schema["enum"].some((e) => e === v)) {
      problems.push(
        `${path}: ${JSON.stringify(v)} is not one of ${JSON.stringify(schema["enum"])}`,
      );
    }
    if ("const" in schema && schema["const"] !== v) {
      problems.push(`${path}: expected ${JSON.stringify(schema["const"])}`);
    }
    if (typeof schema["minimum"] === "number" && typeof v === "number" && v < schema["minimum"]) {
      problems.push(`${path}: ${v} is below ${schema["minimum"]}`);
    }
    for (const key of ["oneOf", "anyOf"] as const) {
      const options = schema[key];
      if (!Array.isArray(options)) continue;
      const passing = options.filter((o): o is Schema => isRecord(o) || typeof o === "boolean")
        .filter((o) => {
          const sub: string[] = [];
          check(o, v, path, sub);
          return sub.length === 0;
        }).length;
      if (key === "oneOf" ? passing !== 1 : passing < 1) {
        problems.push(`${path}: matches ${passing} of the ${key} schemas`);
      }
    }
    if (isRecord(v)) {
      const props = isRecord(schema["properties"]) ? schema["properties"] : {};
      const required = Array.isArray(schema["required"]) ? schema["required"] : [];
      for (const r of required) {
        if (typeof r === "string" && !Object.hasOwn(v, r)) problems.push(`${path}: missing "${r}"`);
      }
      for (const [k, child] of Object.entries(v)) {
        // A key of the data ("constructor"...) is looked up among the schema's own properties only
        const sub = Object.hasOwn(props, k) ? props[k] : undefined;
        if (isRecord(sub) || typeof sub === "boolean") check(sub, child, `${path}.${k}`, problems);
        else if (schema["additionalProperties"] === false) {
          problems.push(`${path}: unexpected property "${k}"`);
        } else if (isRecord(schema["additionalProperties"])) {
          check(schema["additionalProperties"], child, `${path}.${k}`, problems);
        }
      }
    }
    if (Array.isArray(v) && (isRecord(schema["items"]) || typeof schema["items"] === "boolean")) {
      const items = schema["items"] as Schema;
      v.forEach((item, i) => check(items, item, `${path}[${i}]`, problems));
    }
  };
  const problems: string[] = [];
  check(root, value, "$", problems);
  return problems;
}
