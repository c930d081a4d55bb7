/**
 * YAML that YAML 1.1 readers take as this node means it. The yaml library
 * writes YAML 1.2, quoting only strings a 1.2 reader would misread, but Go's
 * yaml.v2 (which egctl and Easegress read with) and PyYAML follow 1.1, where
 * a plain `on`, `yes`, `y`, `1_000`, `0755` or `2026-01-01` is a boolean, a
 * number or a date: a header value "on" would reach such a script as true.
 * Those strings are quoted here, as Go's YAML writer quotes them.
 *
 * @module
 */

import { loadYaml } from "./yaml_module.ts";

/**
 * Plain scalars YAML 1.1 resolves to something other than a string
 * (yaml.org/type; floats as PyYAML reads them, so "127.0.0.1" stays plain).
 */
const YAML_1_1_NOT_STRING = new RegExp(
  "^(?:" + [
    "y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF", // bool
    "~|null|Null|NULL", // null
    // int: binary, octal, decimal, hex, sexagesimal
    "[-+]?(?:0b[01_]+|0[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)",
    "[-+]?[0-9][0-9_]*\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?", // float
    "[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*", // sexagesimal float
    "[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)",
    "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt \\t].*)?", // timestamp
    "<<|=", // merge, value
  ].join("|") + ")$",
);

/** Whether YAML 1.1 would read the plain scalar `text` as something other than a string. */
export function isYaml11NonString(text: string): boolean {
  return YAML_1_1_NOT_STRING.test(text);
}

/** `value` as YAML text, with strings a YAML 1.1 reader would misread quoted. */
export async function toYamlText(value: unknown): Promise<string> {
  const { Document, visit } = await loadYaml();
  const doc = new Document(value);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && isYaml11NonString(node.value)) {
        node.type = "QUOTE_DOUBLE";
      }
    },
  });
  return doc.toString();
}
