/**
 * Printing admin API bodies: YAML exactly as the node sent it, or pretty JSON.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import type { OutputFormat } from "./client.ts";

/** The output formats `-o/--output` accepts. */
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["yaml", "json"];

/**
 * Renders a response body for the terminal: `""` for an empty body, otherwise
 * text ending in one newline. For `json`, a JSON body is re-indented and a
 * YAML body (from a node that ignored `Accept`) is converted; a body that is
 * neither is printed as received. A body the caller knows to be `prose` (a
 * description, a message) becomes one JSON string: read as YAML, a sentence
 * with a colon would turn into a map.
 */
export function renderBody(body: string, format: OutputFormat, prose = false): string {
  if (body.trim() === "") return "";
  if (format === "json" && prose) return `${JSON.stringify(body)}\n`;
  if (format === "json") {
    const value = parseJsonOrYaml(body);
    if (value !== undefined) return `${JSON.stringify(value, null, 2)}\n`;
  }
  return body.endsWith("\n") ? body : `${body}\n`;
}

function parseJsonOrYaml(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    try {
      return parseYaml(text) ?? undefined;
    } catch {
      return undefined;
    }
  }
}
