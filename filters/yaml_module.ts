/**
 * The YAML library, imported on first use. Like any npm package it brings
 * in the runtime's Node compatibility layer, about 5 MB per isolate, which a
 * data plane without builder filters and a node configured through JSON
 * never need.
 *
 * @module
 */

import type * as Yaml from "yaml";
import { keepPlainSource, unwrapPlainScalar } from "./yaml_plain_scalars.ts";

let loaded: typeof Yaml | undefined;
let loading: Promise<typeof Yaml> | undefined;

/**
 * How configuration YAML (objects, data, config files) is read: with `<<`
 * merge keys merged, as Go's yaml.v2 reads Easegress configs, rather than
 * kept as a literal "<<" field; and without the library's process warnings,
 * which a list or map used as a key (`? [a, b]`) printed to the node's or
 * ctl's stderr, outside any answer: such a key is refused as the field it
 * reads as.
 */
export const CONFIG_YAML_OPTIONS = { merge: true, logLevel: "error" } as const;

/** The YAML module, imported by the first call. */
export function loadYaml(): Promise<typeof Yaml> {
  return loading ??= import("yaml").then((module) => loaded = module);
}

/** The YAML module once {@linkcode loadYaml} has settled; throws before that. */
export function loadedYaml(): typeof Yaml {
  if (loaded === undefined) throw new Error("the YAML module is used before loadYaml() settled");
  return loaded;
}

/** Whether {@linkcode loadYaml} has settled, so {@linkcode loadedYaml} may be called. */
export function yamlReady(): boolean {
  return loaded !== undefined;
}

/**
 * The one document of configuration YAML `text` as plain data (plain numbers
 * and booleans spelled as written for yaml_plain_scalars.ts), skipping empty
 * documents (a trailing `---`, only comments, a bare `null`): `null` when there
 * is none, and a `problem` (to follow what the text is) when it holds several
 * or is not YAML.
 */
export async function readOneDocument(
  text: string,
): Promise<{ value: unknown } | { problem: string }> {
  const { parseAllDocuments, visit } = await loadYaml();
  const docs = parseAllDocuments(text, CONFIG_YAML_OPTIONS);
  if (!Array.isArray(docs)) return { problem: "is not YAML" };
  const values: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length) return { problem: `is invalid YAML: ${doc.errors[0].message}` };
    let value: unknown;
    try {
      // Plain numbers and booleans keep their spelling for text fields (see spellingOf).
      visit(doc, keepPlainSource);
      value = doc.toJS({ reviver: unwrapPlainScalar });
    } catch (e) {
      // Well-formed but not buildable: aliases that would expand without bound, say.
      return { problem: `is invalid YAML: ${(e as Error).message}` };
    }
    if (value !== null) values.push(value);
  }
  if (values.length > 1) return { problem: `must hold one document, found ${values.length}` };
  return { value: values[0] ?? null };
}
