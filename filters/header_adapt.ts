/**
 * Easegress's header AdaptSpec (`del`, `set`, `add`, applied in that order),
 * plus the header name and value checks other specs share.
 *
 * @module
 */

import { isToken } from "./header_fields.ts";
import type { SpecReader } from "./spec.ts";

/** How to change a set of headers; applied as del, then set, then add. */
export interface HeaderAdaptSpec {
  /** Header names to remove. */
  del?: string[];
  /** Headers to set, replacing every existing value. */
  set?: Record<string, string>;
  /** Headers to append a value to. */
  add?: Record<string, string>;
}

// Values may hold any text but line breaks and NUL, which would split or end a header.
const BAD_HEADER_VALUE = /[\r\n\0]/;
// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;
const utf8 = new TextEncoder();

/** Why `name` is not a valid header name, or "" when it is. */
export function headerNameProblem(name: string): string {
  return isToken(name) ? "" : `"${name}" is not a valid header name`;
}

/** Why `value` cannot be a header value, or "" when it can. */
export function headerValueProblem(value: string): string {
  return BAD_HEADER_VALUE.test(value) ? "must not contain line breaks or NUL" : "";
}

/**
 * The form of `text` that web `Headers` accept: non-ASCII text becomes its
 * UTF-8 bytes, one character per byte, which is what Go puts on the wire.
 */
export function toHeaderValue(text: string): string {
  if (!NON_ASCII.test(text)) return text;
  let out = "";
  for (const byte of utf8.encode(text)) out += String.fromCharCode(byte);
  return out;
}

const utf8Text = new TextDecoder();

/**
 * The text a header value stands for, the inverse of {@linkcode toHeaderValue}:
 * web Headers hold the UTF-8 bytes on the wire as one character each, while
 * Go's strings are those bytes, so comparing with a spec's text or a JSON
 * string needs them decoded. ASCII comes back as it is, at no cost.
 */
export function headerValueText(value: string): string {
  if (!NON_ASCII.test(value)) return value;
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i) & 0xff;
  return utf8Text.decode(bytes);
}

/** Reads a map of header name to value, checking names and values. */
export function readHeaderMap(
  r: SpecReader,
  field: string,
): Record<string, string> | undefined {
  const map = r.stringMap(field);
  if (!map) return undefined;
  for (const [name, value] of Object.entries(map)) {
    const nameProblem = headerNameProblem(name);
    if (nameProblem) r.problem(`${field}.${name}`, nameProblem);
    const valueProblem = headerValueProblem(value);
    if (valueProblem) r.problem(`${field}.${name}`, valueProblem);
  }
  return map;
}

/** Reads a list of header names. */
export function readHeaderNames(r: SpecReader, field: string): string[] | undefined {
  const names = r.stringArray(field);
  names?.forEach((name, i) => {
    const problem = headerNameProblem(name);
    if (problem) r.problem(`${field}[${i}]`, problem);
  });
  return names;
}

/** Reads an AdaptSpec at `r`; empty parts are left out of the result. */
export function readHeaderAdaptSpec(r: SpecReader): HeaderAdaptSpec {
  const spec: HeaderAdaptSpec = {};
  const del = readHeaderNames(r, "del");
  const set = readHeaderMap(r, "set");
  const add = readHeaderMap(r, "add");
  if (del?.length) spec.del = del;
  if (set && Object.keys(set).length) spec.set = set;
  if (add && Object.keys(add).length) spec.add = add;
  return spec;
}

/** A prepared {@linkcode HeaderAdaptSpec}. */
export class HeaderAdaptor {
  readonly #del: readonly string[];
  readonly #set: readonly (readonly [string, string])[];
  readonly #add: readonly (readonly [string, string])[];

  /**
   * Prepares `spec`, which must have been read by {@linkcode readHeaderAdaptSpec}.
   * Names are lowered here once, so applying does not lower them per request.
   */
  constructor(spec: HeaderAdaptSpec) {
    const field = ([name, value]: [string, string]) =>
      [name.toLowerCase(), toHeaderValue(value)] as const;
    this.#del = (spec.del ?? []).map((name) => name.toLowerCase());
    this.#set = Object.entries(spec.set ?? {}).map(field);
    this.#add = Object.entries(spec.add ?? {}).map(field);
  }

  /** Whether applying changes nothing. */
  get isEmpty(): boolean {
    return !this.#del.length && !this.#set.length && !this.#add.length;
  }

  /** Applies the changes to `headers`: del, then set, then add. */
  apply(headers: Headers): void {
    for (const name of this.#del) headers.delete(name);
    for (const [name, value] of this.#set) headers.set(name, value);
    for (const [name, value] of this.#add) headers.append(name, value);
  }
}
