/**
 * Reading object documents from multi-document YAML. Every document's YAML,
 * name and kind are checked before anything is sent, so a document that is
 * not an object never leaves the ones before it applied; a spec the node
 * refuses still stops the sending there.
 *
 * @module
 */

import { parseAllDocuments } from "yaml";
import { CtlError } from "./errors.ts";
import { CONFIG_YAML_OPTIONS } from "../filters/yaml_module.ts";

/** One object read from the input, ready to send. */
export interface ObjectDocument {
  /** 1-based position of the document in the input (empty documents count too). */
  readonly index: number;
  /** 1-based line of the input where the document's content starts. */
  readonly line: number;
  /** The object's `name`. */
  readonly name: string;
  /** The object's `kind`. */
  readonly kind: string;
  /** The whole document as plain data (aliases resolved). */
  readonly spec: Readonly<Record<string, unknown>>;
  /** The document's YAML as written, which is what gets sent. */
  readonly text: string;
}

/**
 * The detail line saying where sending `count` documents stopped, the one
 * at `position` (0-based) labelled `label` and starting at `line` failing:
 * none when there was only one, which needs no telling.
 */
export function stoppedAtLines(
  count: number,
  position: number,
  label: string,
  line: number,
): string[] {
  if (count <= 1) return [];
  const notSent = count - position - 1;
  return [
    `stopped at document ${label} at line ${line}: ${position} sent before it, ` +
    `${notSent} after it not sent`,
  ];
}

/**
 * Parses `text` as multi-document YAML and checks each document parses, is a
 * map, and has a non-empty string `name` and `kind`. Empty documents (a
 * trailing `---`, only comments, a bare `null`) are skipped.
 *
 * Throws {@linkcode CtlError} listing every bad document when any is bad,
 * or when there is no object at all; `source` names the input in the message.
 */
export function parseObjectDocuments(text: string, source: string): ObjectDocument[] {
  return readMapDocuments(
    text,
    source,
    "a map with name and kind",
    "objects",
    (index, line, spec, own) => {
      const fieldProblems = [checkField(spec, "name"), checkField(spec, "kind")]
        .filter((p) => p !== undefined);
      if (fieldProblems.length > 0) {
        return `document ${index}${nameHint(spec)}: ${fieldProblems.join("; ")}`;
      }
      const [name, kind] = [spec.name as string, spec.kind as string];
      return { index, line, name, kind, spec, text: own };
    },
  );
}

/**
 * The maps of multi-document YAML `text`, each made into a `T` by `take` (or
 * a problem, as text) from its position, the line it starts at, its value
 * and its own text. Empty documents are
 * skipped. Throws {@linkcode CtlError} listing every bad document when any
 * is bad, or when there is none; `source` names the input, `shape` what a
 * document must be, `things` what none was found of.
 */
function readMapDocuments<T>(
  text: string,
  source: string,
  shape: string,
  things: string,
  take: (index: number, line: number, value: Record<string, unknown>, own: string) => T | string,
): T[] {
  const found: T[] = [];
  const problems: string[] = [];
  // Lines are counted on from the last document's start, so a file of many is read once.
  let counted = 0;
  let line = 1;
  const lineAt = (offset: number): number => {
    for (
      let i = text.indexOf("\n", counted);
      i !== -1 && i < offset;
      i = text.indexOf("\n", i + 1)
    ) {
      line++;
    }
    counted = Math.max(counted, offset);
    return line;
  };
  parseAllDocuments(text, CONFIG_YAML_OPTIONS).forEach((doc, position) => {
    const index = position + 1;
    const read = documentValue(doc);
    if ("problem" in read) {
      problems.push(`document ${index}: ${read.problem}`);
      return;
    }
    const value = read.value;
    // An empty document (a trailing "---", only comments) reads as null: nothing to send.
    if (value === null) return;
    if (typeof value !== "object" || Array.isArray(value)) {
      problems.push(`document ${index}: must be ${shape}, got ${describe(value)}`);
      return;
    }
    // Sent as written, not re-encoded: JSON has no .inf or .nan, and the node reads the
    // YAML as egctl's users expect, the same whether it comes from ctl or curl.
    const own = text.slice(doc.range[0], doc.range[2]);
    const start = lineAt(doc.contents?.range?.[0] ?? doc.range[0]);
    const taken = take(index, start, value as Record<string, unknown>, own);
    if (typeof taken === "string") problems.push(taken);
    else found.push(taken);
  });
  if (problems.length > 0) {
    const count = problems.length === 1
      ? "1 invalid document"
      : `${problems.length} invalid documents`;
    throw new CtlError(`${source} has ${count}; nothing was sent`, problems);
  }
  if (found.length === 0) throw new CtlError(`no ${things} found in ${source}`);
  return found;
}

type ParsedDocument = ReturnType<typeof parseAllDocuments>[number];

/** A document's plain value (aliases resolved), or what is wrong with its YAML. */
function documentValue(doc: ParsedDocument): { value: unknown } | { problem: string } {
  if (doc.errors.length > 0) {
    return { problem: `invalid YAML: ${firstLine(doc.errors[0].message)}` };
  }
  try {
    return { value: doc.toJS() };
  } catch (error) {
    // The message alone: its class (ReferenceError, Error) says nothing to the user.
    const message = error instanceof Error ? error.message : String(error);
    return { problem: `invalid YAML: ${firstLine(message)}` };
  }
}

function checkField(spec: Record<string, unknown>, field: "name" | "kind"): string | undefined {
  const value = spec[field];
  if (value === undefined || value === null) return `missing ${field}`;
  if (typeof value !== "string") return `${field} must be a string, got ${describe(value)}`;
  if (value.trim() === "") return `${field} must not be empty`;
  return undefined;
}

/** ` (name "x")` when the document has a usable name, so the user can find it. */
function nameHint(spec: Record<string, unknown>): string {
  return typeof spec.name === "string" && spec.name !== "" ? ` (name "${spec.name}")` : "";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The first line of a YAML error, without the colon that led to the excerpt after it. */
function firstLine(text: string): string {
  return text.split("\n")[0].replace(/:$/, "");
}

/** One map read from the input for a custom data or WasmHost data call. */
export interface DataDocument {
  /** 1-based position of the document in the input (empty documents count too). */
  readonly index: number;
  /** 1-based line of the input where the document's content starts. */
  readonly line: number;
  /** The document as plain data (aliases resolved). */
  readonly value: Record<string, unknown>;
  /** The document's YAML as written, which is what gets sent. */
  readonly text: string;
}

/**
 * Parses `text` as multi-document YAML whose documents are maps (custom data
 * kinds, items, batches, WasmHost data), each to be sent on its own as egctl
 * does. Empty documents are skipped. Throws {@linkcode CtlError} listing every
 * bad document when any is bad, or when there is none; `source` names the input.
 */
export function parseDataDocuments(text: string, source: string): DataDocument[] {
  return readMapDocuments(text, source, "a map", "YAML document", (index, line, value, own) => ({
    index,
    line,
    value,
    text: own,
  }));
}
