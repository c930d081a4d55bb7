/**
 * Custom data kinds' JSON Schemas in the drafts Easegress's gojsonschema
 * reads: draft-07, and the draft-04 and draft-06 schemas written for it
 * (`$schema` naming them, or none, which gojsonschema reads as any). Ajv
 * checks draft-07 (and draft-06, whose meta-schema it is given); draft-04's
 * own spellings are rewritten as draft-07 says the same.
 *
 * @module
 */

import { isPlainObject } from "../../filters/spec.ts";

const DRAFT_04 = /^https?:\/\/json-schema\.org\/draft-04\/schema#?$/;

/** Keywords whose value is data, not a schema: left as written. */
const DATA_KEYWORDS = new Set(["enum", "const", "default", "examples"]);

/** The draft-06 meta-schema, for Ajv to know the draft a schema names. */
export async function draft06MetaSchema(): Promise<Record<string, unknown>> {
  const module = await import("ajv/dist/refs/json-schema-draft-06.json", {
    with: { type: "json" },
  });
  return module.default;
}

/**
 * `schema` as draft-07 says it, when it is draft-04 (named by `$schema`, or
 * spelled so without one): `exclusiveMaximum: true` with `maximum: N` is
 * `exclusiveMaximum: N` (likewise the minimum; `false` is dropped), an `id`
 * is `$id`, and a `$schema` naming draft-04 names draft-07. Anything else is
 * returned as it is.
 */
export function asDraft07(schema: Record<string, unknown>): Record<string, unknown> {
  const named = typeof schema.$schema === "string" && DRAFT_04.test(schema.$schema);
  const rewritten = rewrite(schema, named) as Record<string, unknown>;
  if (named) rewritten.$schema = "http://json-schema.org/draft-07/schema#";
  return rewritten;
}

/** `node` with draft-04's spellings rewritten, its data keywords left alone; a copy where changed. */
function rewrite(node: unknown, draft04: boolean): unknown {
  if (Array.isArray(node)) return node.map((item) => rewrite(item, draft04));
  if (!isPlainObject(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = DATA_KEYWORDS.has(key) ? value : rewrite(value, draft04);
  }
  for (
    const [exclusive, bound] of [["exclusiveMaximum", "maximum"], ["exclusiveMinimum", "minimum"]]
  ) {
    // A boolean is draft-04's alone: read so even without a `$schema`, as gojsonschema does.
    if (typeof out[exclusive] !== "boolean") continue;
    if (out[exclusive] === true && typeof out[bound] === "number") {
      out[exclusive] = out[bound];
      delete out[bound];
    } else delete out[exclusive];
  }
  // Only with draft-04 named: elsewhere `id` may be an annotation of the schema's own.
  if (draft04 && typeof out.id === "string" && out.$id === undefined) {
    out.$id = out.id;
    delete out.id;
  }
  return out;
}
