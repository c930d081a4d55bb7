/**
 * The HeaderToJSON filter, as Easegress's: request headers named in
 * `headerMap` become fields of the request's JSON body (an empty body
 * becomes an object; an object gets the fields; an array gets them in each
 * of its objects). A body that is not JSON, or not an object or an array
 * of objects, is left as it was and the result is `jsonEncodeDecodeErr`; a
 * body that cannot be read gives `bodyReadErr`.
 *
 * @module
 */

import type { Context } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { headerNameProblem, headerValueText } from "./header_adapt.ts";
import { SpecReader } from "./spec.ts";
import { marshalJSON, parseJSON } from "./template/json.ts";
import { kindOf } from "./template/values.ts";

/** One header and the JSON field it becomes. */
export interface HeaderToJSONEntry {
  header: string;
  json: string;
}

/** The HeaderToJSON spec, normalized. */
export interface HeaderToJSONSpec {
  headerMap: HeaderToJSONEntry[];
}

/** The body is not JSON of a kind the fields can be merged into. */
export const RESULT_JSON_ERROR = "jsonEncodeDecodeErr";
/** The body could not be read. */
export const RESULT_BODY_READ_ERROR = "bodyReadErr";

function validate(raw: Record<string, unknown>): HeaderToJSONSpec {
  const r = SpecReader.root(raw);
  const headerMap = r.array("headerMap", (er) => {
    const header = er.string("header", { required: true });
    // An empty name is refused too: no request has it, and Headers throw on it.
    const problem = header === undefined ? "" : headerNameProblem(header);
    if (problem) er.problem("header", problem);
    return { header: header ?? "", json: er.string("json", { required: true }) ?? "" };
  }, { required: true, minItems: 1 }) ?? [];
  r.finish();
  r.throwIfProblems();
  return { headerMap };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isObject(value: unknown): value is Record<string, unknown> {
  return kindOf(value) === "map";
}

class HeaderToJSON implements FilterInstance {
  readonly #entries: readonly HeaderToJSONEntry[];

  constructor(spec: HeaderToJSONSpec) {
    this.#entries = spec.headerMap;
  }

  async handle(ctx: Context): Promise<string> {
    const request = ctx.request;
    const fields: Record<string, string> = {};
    let any = false;
    for (const { header, json } of this.#entries) {
      const value = request.firstHeader(header); // Go's Header.Get: the first field
      if (value === null || value === "") continue;
      // The field's UTF-8 text, as Go's JSON string holds it, not its bytes as characters.
      fields[json] = headerValueText(value);
      any = true;
    }
    if (!any) return "";
    let body: Uint8Array;
    try {
      body = await request.bytes();
    } catch {
      return RESULT_BODY_READ_ERROR;
    }
    let merged: unknown;
    try {
      merged = mergeFields(body.length === 0 ? {} : parseJSON(decoder.decode(body)), fields);
    } catch {
      request.body = body;
      return RESULT_JSON_ERROR;
    }
    // Go's json.Marshal: keys sorted, <, > and & escaped, numbers as float64 writes them.
    const out = encoder.encode(marshalJSON(merged));
    request.body = out;
    request.headers.set("content-length", String(out.length));
    request.headers.delete("transfer-encoding");
    return "";
  }
}

/** `value` with `fields` merged in; throws for JSON they cannot go into. */
function mergeFields(value: unknown, fields: Record<string, string>): unknown {
  if (isObject(value)) return { ...value, ...fields };
  if (Array.isArray(value) && value.every(isObject)) {
    return value.map((item) => ({ ...item, ...fields }));
  }
  throw new TypeError("the body is neither a JSON object nor an array of objects");
}

/** The HeaderToJSON filter kind. */
export const headerToJSONKind: FilterKind<HeaderToJSONSpec> = {
  kind: "HeaderToJSON",
  description: "HeaderToJSON puts request headers into the request's JSON body.",
  results: [RESULT_JSON_ERROR, RESULT_BODY_READ_ERROR],
  validate,
  create(spec: HeaderToJSONSpec): FilterInstance {
    return new HeaderToJSON(spec);
  },
};
