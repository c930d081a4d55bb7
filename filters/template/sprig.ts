/**
 * The sprig template function library as Easegress ships it (go-task's
 * slim-sprig), ported function by function with Go's argument orders, types
 * and quirks: `trimPrefix prefix str`, `replace old new str`, `split sep str`
 * returning a map with keys _0.._N, `default def value`, arithmetic through
 * toInt64 (json.Number counts as 0 there, as in Go) and so on.
 *
 * `merge` and `uuidv4` come from Masterminds sprig (slim-sprig lacks them);
 * sprig_more.ts has the rest of slim-sprig's table.
 *
 * @module
 */

import { createHash, randomUUID } from "node:crypto";
import { formatValue, sprintf } from "./fmt.ts";
import { goFunc, type GoFunction, type ParamType } from "./functions.ts";
import { findAll, goRegexp, quoteMeta, replaceAll, split as regexSplit } from "./goregexp.ts";
import { stringSlice } from "./gotypes.ts";
import { formatTime, knownZone, now, unixTime } from "./gotime.ts";
import { moreSprigFunctions, untilStep } from "./sprig_more.ts";
import { marshalJSON, parseJSON } from "./json.ts";
import { parseGoFloat } from "./strconv.ts";
import {
  byteLength,
  byteSlice,
  compareStrings,
  float64,
  GoFloat,
  GoTime,
  goTypeOf,
  isMap,
  isSpace,
  JsonNumber,
  kindOf,
  nilSlice,
  stringer,
  typeName,
  utf8,
  withGoType,
} from "./values.ts";

const S: ParamType = "string";
const I: ParamType = "int";
const A: ParamType = "any";
const M: ParamType = "map";
const F: ParamType = "float64";
const B: ParamType = "bool";

type Dict = Record<string, unknown>;

// ---- conversions, as sprig does them ----

/** sprig's strval: the string form of any value. */
export function strval(v: unknown): string {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (v instanceof Error) return v.message;
  const s = stringer(v);
  if (s) return s();
  return formatValue(v);
}

function strslice(v: unknown): string[] {
  if (Array.isArray(v) || v instanceof Uint8Array) {
    if (Array.isArray(v) && goTypeOf(v)?.name === "[]string") return v as string[];
    const out: string[] = [];
    for (const x of v as Iterable<unknown>) if (x !== null && x !== undefined) out.push(strval(x));
    return stringSlice(out);
  }
  if (v === null || v === undefined) return stringSlice([]);
  return stringSlice([strval(v)]);
}

/** slim-sprig's toInt64: strings parse as base-10 ints, other kinds by reflection; else 0. */
export function toInt64(v: unknown): number {
  if (typeof v === "string") {
    if (!/^[+-]?[0-9]+$/.test(v)) return 0;
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : 0;
  }
  switch (kindOf(v)) {
    case "int":
      return Number(v);
    case "float":
      return Math.trunc(v instanceof GoFloat ? v.value : (v as number)) || 0;
    case "bool":
      return v ? 1 : 0;
  }
  return 0;
}

/** slim-sprig's toFloat64: strings parse as floats, other kinds by reflection; else 0. */
export function toFloat64(v: unknown): number {
  if (typeof v === "string") return parseGoFloat(v) ?? 0;
  switch (kindOf(v)) {
    case "int":
      return Number(v);
    case "float":
      return v instanceof GoFloat ? v.value : (v as number);
    case "bool":
      return v ? 1 : 0;
  }
  return 0;
}

/** sprig's empty: the zero value of its type (nil, 0, "", false, empty collections). */
export function empty(v: unknown): boolean {
  switch (kindOf(v)) {
    case "invalid":
    case "nil":
      return true;
    case "string":
      return (v instanceof JsonNumber ? v.text : (v as string)).length === 0;
    case "slice":
      return (v as ArrayLike<unknown>).length === 0;
    case "map":
      return Object.keys(v as object).length === 0;
    case "bool":
      return !v;
    case "int":
    case "float":
      return (v instanceof GoFloat ? v.value : Number(v)) === 0;
  }
  return false;
}

function reflectKind(v: unknown): string {
  switch (kindOf(v)) {
    case "invalid":
    case "nil":
      return "invalid";
    case "float":
      return "float64";
    case "string":
      return "string";
    case "int":
      return "int";
    case "ptr":
      return "ptr";
    default:
      return kindOf(v);
  }
}

/** The elements of a slice argument, or sprig's "Cannot <what> on type <kind>" error. */
function listOf(what: string, v: unknown): unknown[] {
  if (v === null || v === undefined) {
    throw new Error("runtime error: invalid memory address or nil pointer dereference");
  }
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : x));
  if (v instanceof Uint8Array) return [...v];
  throw new Error(`Cannot ${what} on type ${reflectKind(v)}`);
}

/** Go's reflect.DeepEqual over the value model. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeName(a) !== typeName(b)) return false;
  switch (kindOf(a)) {
    case "float":
    case "int":
      return Number(a instanceof GoFloat ? a.value : a) ===
        Number(b instanceof GoFloat ? b.value : b);
    case "string":
      return strval(a) === strval(b);
    case "slice": {
      const x = a as ArrayLike<unknown>;
      const y = b as ArrayLike<unknown>;
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!deepEqual(x[i] ?? null, y[i] ?? null)) return false;
      return true;
    }
    case "map": {
      const kx = Object.keys(a as object);
      if (kx.length !== Object.keys(b as object).length) return false;
      return kx.every((k) =>
        Object.hasOwn(b as object, k) && deepEqual((a as Dict)[k] ?? null, (b as Dict)[k] ?? null)
      );
    }
    case "struct":
      return (a as GoTime).ms === (b as GoTime).ms &&
        (a as GoTime).extraNanos === (b as GoTime).extraNanos;
  }
  return false;
}

// ---- strings ----

function mapRunes(s: string, f: (c: string) => string): string {
  let out = "";
  for (const c of s) out += f(c);
  return out;
}

/** Go's strings.ToUpper (simple case mapping: one rune in, one rune out). */
export function goUpper(s: string): string {
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toUpperCase();
  return mapRunes(s, (c) => {
    const u = c.toUpperCase();
    return [...u].length === 1 ? u : c;
  });
}

/** Go's strings.ToLower (simple case mapping). */
export function goLower(s: string): string {
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  return mapRunes(s, (c) => {
    if (c === "\u0130") return "i";
    const l = c.toLowerCase();
    return [...l].length === 1 ? l : c;
  });
}

function isSeparator(c: string): boolean {
  const r = c.codePointAt(0)!;
  if (r <= 0x7f) return !/[0-9a-zA-Z_]/.test(c);
  if (/[\p{L}\p{Nd}]/u.test(c)) return false;
  return isSpace(r);
}

// Digraphs whose title case differs from their upper case (unicode.ToTitle).
const TITLE_CASE: Record<string, string> = {
  "\u01c4": "\u01c5",
  "\u01c5": "\u01c5",
  "\u01c6": "\u01c5",
  "\u01c7": "\u01c8",
  "\u01c8": "\u01c8",
  "\u01c9": "\u01c8",
  "\u01ca": "\u01cb",
  "\u01cb": "\u01cb",
  "\u01cc": "\u01cb",
  "\u01f1": "\u01f2",
  "\u01f2": "\u01f2",
  "\u01f3": "\u01f2",
};

/** Go's strings.Title. */
export function goTitle(s: string): string {
  let prev = " ";
  return mapRunes(s, (c) => {
    const out = isSeparator(prev) ? TITLE_CASE[c] ?? goUpper(c) : c;
    prev = c;
    return out;
  });
}

/** Go's strings.TrimSpace. */
export function trimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isSpace(s.codePointAt(start)!)) start++;
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

function trimCutset(s: string, cutset: string): string {
  const set = new Set(cutset);
  const chars = [...s];
  let a = 0;
  let b = chars.length;
  while (a < b && set.has(chars[a])) a++;
  while (b > a && set.has(chars[b - 1])) b--;
  return chars.slice(a, b).join("");
}

/** Go's strings.Split. */
function goSplit(s: string, sep: string, n = -1): string[] {
  if (n === 0) return [];
  if (sep === "") {
    const runes = [...s];
    if (n > 0 && runes.length > n) return [...runes.slice(0, n - 1), runes.slice(n - 1).join("")];
    return runes;
  }
  const parts = s.split(sep);
  if (n > 0 && parts.length > n) return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
  return parts;
}

const STRING_MAP = { name: "map[string]string" };

function partsMap(parts: string[]): Dict {
  const res: Dict = {};
  parts.forEach((p, i) => (res["_" + i] = p));
  return withGoType(res, STRING_MAP);
}

function sliceBounds(s: string, start: number | undefined, end: number | undefined): string {
  const len = byteLength(s);
  const a = start ?? 0;
  const b = end ?? len;
  if (end !== undefined && (b < 0 || b > len) && start === undefined) {
    throw new Error(`runtime error: slice bounds out of range [:${b}] with length ${len}`);
  }
  if (a < 0 || a > b || b > len) {
    if (b > len) {
      throw new Error(`runtime error: slice bounds out of range [:${b}] with length ${len}`);
    }
    throw new Error(`runtime error: slice bounds out of range [${a}:${b}]`);
  }
  return byteSlice(s, a, b);
}

function indent(spaces: number, v: string): string {
  const pad = " ".repeat(Math.max(spaces, 0));
  return pad + v.replaceAll("\n", "\n" + pad);
}

// ---- encodings ----

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function b64decode(v: string): string {
  const bytes: number[] = [];
  let bits = 0;
  let acc = 0;
  let i = 0;
  for (; i < v.length; i++) {
    const c = v[i];
    if (c === "\r" || c === "\n") continue;
    if (c === "=") break;
    const d = B64.indexOf(c);
    if (d < 0) return `illegal base64 data at input byte ${i}`;
    acc = (acc << 6) | d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((acc >> bits) & 0xff);
    }
  }
  const dataChars = v.slice(0, i).replace(/[\r\n]/g, "").length;
  if (dataChars % 4 === 1) return `illegal base64 data at input byte ${i}`;
  if (i < v.length) {
    const pad = v.slice(i).replace(/[\r\n]/g, "");
    const need = dataChars % 4 === 0 ? 0 : 4 - (dataChars % 4);
    if (!/^=+$/.test(pad) || pad.length !== need) return `illegal base64 data at input byte ${i}`;
  } else if (dataChars % 4 !== 0) return `illegal base64 data at input byte ${v.length}`;
  return new TextDecoder().decode(new Uint8Array(bytes));
}

function b32encode(v: string): string {
  const bytes = utf8(v);
  let out = "";
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += "=";
  return out;
}

function b32decode(v: string): string {
  const clean = v.replace(/[\r\n]/g, "");
  if (clean.length % 8 !== 0) {
    return `illegal base32 data at input byte ${Math.floor(clean.length / 8) * 8}`;
  }
  const bytes: number[] = [];
  let bits = 0;
  let acc = 0;
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i];
    if (c === "=") break;
    const d = B32.indexOf(c);
    if (d < 0) return `illegal base32 data at input byte ${i}`;
    acc = ((acc << 5) | d) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((acc >> bits) & 0xff);
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

function adler32(v: string): number {
  let a = 1;
  let b = 0;
  for (const c of utf8(v)) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return (b * 65536 + a) >>> 0;
}

// ---- paths (Go's path package) ----

function pathClean(p: string): string {
  if (p === "") return ".";
  const rooted = p[0] === "/";
  const parts: string[] = [];
  let leadingDotDots = 0;
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (parts.length > leadingDotDots) parts.pop();
      else if (!rooted) {
        parts.push("..");
        leadingDotDots++;
      }
      continue;
    }
    parts.push(seg);
  }
  const out = (rooted ? "/" : "") + parts.join("/");
  return out === "" ? "." : out;
}

function pathBase(p: string): string {
  if (p === "") return ".";
  p = p.replace(/\/+$/, "");
  const i = p.lastIndexOf("/");
  if (i >= 0) p = p.slice(i + 1);
  return p === "" ? "/" : p;
}

function pathDir(p: string): string {
  const i = p.lastIndexOf("/");
  return pathClean(p.slice(0, i + 1));
}

function pathExt(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== "/"; i--) if (p[i] === ".") return p.slice(i);
  return "";
}

// ---- lists and dicts ----

function inList(haystack: unknown[], needle: unknown): boolean {
  return haystack.some((h) => deepEqual(needle, h));
}

/** mergo.Merge without overwrite: keys missing (or empty) in dst are filled from src, maps recursively. */
function mergeInto(dst: Dict, src: Dict, overwrite: boolean): Dict {
  for (const [k, sv] of Object.entries(src)) {
    const dv = dst[k];
    if (isMap(dv) && isMap(sv)) mergeInto(dv, sv, overwrite);
    else if (overwrite ? !empty(sv) : empty(dv)) dst[k] = sv;
  }
  return dst;
}

function dateOf(v: unknown): GoTime {
  if (v instanceof GoTime) return v;
  if (typeof v === "number" && Number.isInteger(v)) return unixTime(v);
  return now();
}

function zoneOrUTC(zone: string): string {
  return knownZone(zone) ? zone : "UTC";
}

/** Builds the sprig function table. */
export function sprigFunctions(): Record<string, GoFunction> {
  const f: Record<string, GoFunction> = {
    hello: goFunc([], () => "Hello!"),

    // strings
    upper: goFunc([S], goUpper),
    lower: goFunc([S], goLower),
    title: goFunc([S], goTitle),
    trim: goFunc([S], trimSpace),
    trimAll: goFunc([S, S], (a: string, b: string) => trimCutset(b, a)),
    trimall: goFunc([S, S], (a: string, b: string) => trimCutset(b, a)),
    trimSuffix: goFunc(
      [S, S],
      (a: string, b: string) => (a && b.endsWith(a) ? b.slice(0, b.length - a.length) : b),
    ),
    trimPrefix: goFunc([S, S], (a: string, b: string) => (b.startsWith(a) ? b.slice(a.length) : b)),
    trunc: goFunc([I, S], (c: number, s: string) => {
      const len = byteLength(s);
      if (c < 0 && len + c > 0) return byteSlice(s, len + c);
      if (c >= 0 && len > c) return byteSlice(s, 0, c);
      return s;
    }),
    substr: goFunc([I, I, S], (start: number, end: number, s: string) => {
      if (start < 0) return sliceBounds(s, undefined, end);
      if (end < 0 || end > byteLength(s)) return sliceBounds(s, start, undefined);
      return sliceBounds(s, start, end);
    }),
    repeat: goFunc([I, S], (count: number, str: string) => {
      if (count < 0) throw new Error("strings: negative Repeat count");
      return str.repeat(count);
    }),
    contains: goFunc([S, S], (sub: string, str: string) => str.includes(sub)),
    hasPrefix: goFunc([S, S], (sub: string, str: string) => str.startsWith(sub)),
    hasSuffix: goFunc([S, S], (sub: string, str: string) => str.endsWith(sub)),
    quote: goFunc(
      [],
      (...a: unknown[]) =>
        a.filter((s) => s !== null).map((s) => sprintf("%q", [strval(s)])).join(" "),
      A,
    ),
    squote: goFunc(
      [],
      (...a: unknown[]) => a.filter((s) => s !== null).map((s) => sprintf("'%v'", [s])).join(" "),
      A,
    ),
    cat: goFunc([], (...a: unknown[]) => {
      const nv = a.filter((x) => x !== null);
      return sprintf("%v ".repeat(nv.length).trim(), nv);
    }, A),
    indent: goFunc([I, S], indent),
    nindent: goFunc([I, S], (n: number, v: string) => "\n" + indent(n, v)),
    replace: goFunc([S, S, S], (o: string, n: string, src: string) => src.replaceAll(o, n)),
    plural: goFunc(
      [S, S, I],
      (one: string, many: string, count: number) => (count === 1 ? one : many),
    ),
    sha1sum: goFunc([S], (s: string) => createHash("sha1").update(utf8(s)).digest("hex")),
    sha256sum: goFunc([S], (s: string) => createHash("sha256").update(utf8(s)).digest("hex")),
    adler32sum: goFunc([S], (s: string) => String(adler32(s))),
    toString: goFunc([A], strval),
    toStrings: goFunc([A], strslice),
    atoi: goFunc(
      [S],
      (a: string) => (/^[+-]?[0-9]+$/.test(a) && Number.isSafeInteger(Number(a)) ? Number(a) : 0),
    ),
    int64: goFunc([A], toInt64),
    int: goFunc([A], toInt64),
    float64: goFunc([A], (v: unknown) => float64(toFloat64(v))),
    split: goFunc([S, S], (sep: string, orig: string) => partsMap(goSplit(orig, sep))),
    splitList: goFunc([S, S], (sep: string, orig: string) => stringSlice(goSplit(orig, sep))),
    splitn: goFunc(
      [S, I, S],
      (sep: string, n: number, orig: string) => partsMap(goSplit(orig, sep, n)),
    ),
    join: goFunc([S, A], (sep: string, v: unknown) => strslice(v).join(sep)),
    sortAlpha: goFunc([A], (list: unknown) => {
      if (Array.isArray(list) || list instanceof Uint8Array) {
        return stringSlice([...strslice(list)].sort(compareStrings));
      }
      return stringSlice([strval(list)]);
    }),
    uuidv4: goFunc([], () => randomUUID()),

    // math
    add1: goFunc([A], (i: unknown) => toInt64(i) + 1),
    add: goFunc([], (...i: unknown[]) => i.reduce<number>((a, b) => a + toInt64(b), 0), A),
    sub: goFunc([A, A], (a: unknown, b: unknown) => toInt64(a) - toInt64(b)),
    div: goFunc([A, A], (a: unknown, b: unknown) => {
      const d = toInt64(b);
      if (d === 0) throw new Error("runtime error: integer divide by zero");
      return Math.trunc(toInt64(a) / d);
    }),
    mod: goFunc([A, A], (a: unknown, b: unknown) => {
      const d = toInt64(b);
      if (d === 0) throw new Error("runtime error: integer divide by zero");
      return (toInt64(a) % d) || 0;
    }),
    mul: goFunc(
      [A],
      (a: unknown, ...v: unknown[]) => v.reduce<number>((x, b) => x * toInt64(b), toInt64(a)),
      A,
    ),
    max: goFunc(
      [A],
      (a: unknown, ...i: unknown[]) =>
        i.reduce<number>((x, b) => Math.max(x, toInt64(b)), toInt64(a)),
      A,
    ),
    min: goFunc(
      [A],
      (a: unknown, ...i: unknown[]) =>
        i.reduce<number>((x, b) => Math.min(x, toInt64(b)), toInt64(a)),
      A,
    ),
    maxf: goFunc(
      [A],
      (a: unknown, ...i: unknown[]) =>
        float64(i.reduce<number>((x, b) => Math.max(x, toFloat64(b)), toFloat64(a))),
      A,
    ),
    minf: goFunc(
      [A],
      (a: unknown, ...i: unknown[]) =>
        float64(i.reduce<number>((x, b) => Math.min(x, toFloat64(b)), toFloat64(a))),
      A,
    ),
    floor: goFunc([A], (a: unknown) => float64(Math.floor(toFloat64(a)))),
    ceil: goFunc([A], (a: unknown) => float64(Math.ceil(toFloat64(a)))),
    round: goFunc([A, I], (a: unknown, p: number, ...rOpt: (number | GoFloat)[]) => {
      const roundOn = rOpt.length ? (rOpt[0] instanceof GoFloat ? rOpt[0].value : rOpt[0]) : 0.5;
      const pow = 10 ** p;
      const digit = pow * toFloat64(a);
      const frac = digit % 1;
      return float64((frac >= roundOn ? Math.ceil(digit) : Math.floor(digit)) / pow);
    }, F),
    until: goFunc([I], (count: number) => untilStep(0, count, count < 0 ? -1 : 1)),
    untilStep: goFunc([I, I, I], untilStep),

    // defaults
    default: goFunc(
      [A],
      (d: unknown, ...given: unknown[]) => (given.length === 0 || empty(given[0]) ? d : given[0]),
      A,
    ),
    empty: goFunc([A], empty),
    coalesce: goFunc([], (...v: unknown[]) => v.find((x) => !empty(x)) ?? null, A),
    all: goFunc([], (...v: unknown[]) => v.every((x) => !empty(x)), A),
    any: goFunc([], (...v: unknown[]) => v.some((x) => !empty(x)), A),
    compact: goFunc([A], (list: unknown) => listOf("compact", list).filter((x) => !empty(x))),
    ternary: goFunc([A, A, B], (vt: unknown, vf: unknown, v: boolean) => (v ? vt : vf)),
    fromJson: goFunc([S], (v: string) => {
      try {
        return parseJSON(v);
      } catch {
        return null;
      }
    }),
    mustFromJson: goFunc([S], (v: string) => parseJSON(v)),
    toJson: goFunc([A], (v: unknown) => tryJSON(() => marshalJSON(v))),
    mustToJson: goFunc([A], (v: unknown) => marshalJSON(v)),
    toPrettyJson: goFunc([A], (v: unknown) => tryJSON(() => marshalJSON(v, { indent: "  " }))),
    mustToPrettyJson: goFunc([A], (v: unknown) => marshalJSON(v, { indent: "  " })),
    toRawJson: goFunc([A], (v: unknown) => tryJSON(() => marshalJSON(v, { escapeHTML: false }))),
    mustToRawJson: goFunc([A], (v: unknown) => marshalJSON(v, { escapeHTML: false })),

    // reflection
    typeOf: goFunc([A], (v: unknown) => typeName(v)),
    typeIs: goFunc([S, A], (t: string, v: unknown) => t === typeName(v)),
    typeIsLike: goFunc(
      [S, A],
      (t: string, v: unknown) => t === typeName(v) || "*" + t === typeName(v),
    ),
    kindOf: goFunc([A], reflectKind),
    kindIs: goFunc([S, A], (t: string, v: unknown) => t === reflectKind(v)),
    deepEqual: goFunc([A, A], deepEqual),

    // paths
    base: goFunc([S], pathBase),
    dir: goFunc([S], pathDir),
    clean: goFunc([S], pathClean),
    ext: goFunc([S], pathExt),
    isAbs: goFunc([S], (p: string) => p.startsWith("/")),

    // encodings
    b64enc: goFunc([S], (v: string) => utf8(v).toBase64()),
    b64dec: goFunc([S], b64decode),
    b32enc: goFunc([S], b32encode),
    b32dec: goFunc([S], b32decode),

    // data structures
    list: goFunc([], (...v: unknown[]) => v, A),
    tuple: goFunc([], (...v: unknown[]) => v, A),
    dict: goFunc([], (...v: unknown[]) => {
      const d: Dict = {};
      for (let i = 0; i < v.length; i += 2) d[strval(v[i])] = i + 1 < v.length ? v[i + 1] : "";
      return d;
    }, A),
    get: goFunc([M, S], (d: Dict, key: string) => (Object.hasOwn(d, key) ? d[key] : "")),
    set: goFunc([M, S, A], (d: Dict, key: string, value: unknown) => {
      d[key] = value;
      return d;
    }),
    unset: goFunc([M, S], (d: Dict, key: string) => {
      delete d[key];
      return d;
    }),
    hasKey: goFunc([M, S], (d: Dict, key: string) => Object.hasOwn(d, key)),
    pluck: goFunc(
      [S],
      (key: string, ...ds: Dict[]) => ds.filter((d) => Object.hasOwn(d, key)).map((d) => d[key]),
      M,
    ),
    keys: goFunc([], (...ds: Dict[]) => stringSlice(ds.flatMap((d) => Object.keys(d))), M),
    pick: goFunc([M], (d: Dict, ...keys: string[]) => {
      const res: Dict = {};
      for (const k of keys) if (Object.hasOwn(d, k)) res[k] = d[k];
      return res;
    }, S),
    omit: goFunc([M], (d: Dict, ...keys: string[]) => {
      const res: Dict = {};
      for (const [k, v] of Object.entries(d)) if (!keys.includes(k)) res[k] = v;
      return res;
    }, S),
    values: goFunc([M], (d: Dict) => Object.values(d)),
    merge: goFunc([M], (dst: Dict, ...srcs: Dict[]) => {
      for (const src of srcs) mergeInto(dst, src, false);
      return dst;
    }, M),
    mergeOverwrite: goFunc([M], (dst: Dict, ...srcs: Dict[]) => {
      for (const src of srcs) mergeInto(dst, src, true);
      return dst;
    }, M),
    first: goFunc([A], (l: unknown) => listOf("find first", l)[0] ?? null),
    last: goFunc([A], (l: unknown) => {
      const a = listOf("find last", l);
      return a.length ? a[a.length - 1] : null;
    }),
    rest: goFunc([A], (l: unknown) => {
      const a = listOf("find rest", l);
      return a.length ? a.slice(1) : nilSlice("[]interface {}");
    }),
    initial: goFunc([A], (l: unknown) => {
      const a = listOf("find initial", l);
      return a.length ? a.slice(0, -1) : nilSlice("[]interface {}");
    }),
    append: goFunc([A, A], (l: unknown, v: unknown) => [...listOf("push", l), v]),
    push: goFunc([A, A], (l: unknown, v: unknown) => [...listOf("push", l), v]),
    prepend: goFunc([A, A], (l: unknown, v: unknown) => [v, ...listOf("prepend", l)]),
    reverse: goFunc([A], (l: unknown) => listOf("find reverse", l).reverse()),
    uniq: goFunc([A], (l: unknown) => {
      const dest: unknown[] = [];
      for (const x of listOf("find uniq", l)) if (!inList(dest, x)) dest.push(x);
      return dest;
    }),
    without: goFunc(
      [A],
      (l: unknown, ...omit: unknown[]) => listOf("find without", l).filter((x) => !inList(omit, x)),
      A,
    ),
    has: goFunc([A, A], (needle: unknown, haystack: unknown) => {
      if (haystack === null) return false;
      return inList(listOf("find has", haystack), needle);
    }),
    concat: goFunc([], (...lists: unknown[]) => {
      const res: unknown[] = [];
      for (const l of lists) {
        if (!Array.isArray(l) && !(l instanceof Uint8Array)) {
          throw new Error(`Cannot concat type ${reflectKind(l)} as list`);
        }
        res.push(...listOf("concat", l));
      }
      return lists.length ? res : null;
    }, A),
    slice: goFunc([A], (l: unknown, ...indices: unknown[]) => {
      if (!Array.isArray(l) && !(l instanceof Uint8Array)) {
        if (l === null) {
          throw new Error("runtime error: invalid memory address or nil pointer dereference");
        }
        throw new Error(`list should be type of slice or array but ${reflectKind(l)}`);
      }
      const len = l.length;
      if (len === 0) return null;
      const start = indices.length > 0 ? toInt64(indices[0]) : 0;
      const end = indices.length > 1 ? toInt64(indices[1]) : len;
      if (start < 0 || end < start || end > len) {
        throw new Error("reflect.Value.Slice: slice index out of bounds");
      }
      return l.slice(start, end);
    }, A),
    // flow control
    fail: goFunc([S], (msg: string) => {
      throw new Error(msg);
    }),

    // regular expressions
    regexMatch: goFunc([S, S], (re: string, s: string) => {
      try {
        return goRegexp(re).test(s);
      } catch {
        return false;
      }
    }),
    mustRegexMatch: goFunc([S, S], (re: string, s: string) => goRegexp(re).test(s)),
    regexFind: goFunc([S, S], (re: string, s: string) => findAll(goRegexp(re), s, 1)[0]?.[0] ?? ""),
    regexFindAll: goFunc([S, S, I], (re: string, s: string, n: number) => {
      const found = findAll(goRegexp(re), s, n).map((m) => m[0]);
      return found.length ? stringSlice(found) : nilSlice("[]string");
    }),
    regexReplaceAll: goFunc(
      [S, S, S],
      (re: string, s: string, repl: string) => replaceAll(goRegexp(re), s, repl, false),
    ),
    regexReplaceAllLiteral: goFunc(
      [S, S, S],
      (re: string, s: string, repl: string) => replaceAll(goRegexp(re), s, repl, true),
    ),
    regexSplit: goFunc(
      [S, S, I],
      (re: string, s: string, n: number) => stringSlice(regexSplit(goRegexp(re), re, s, n)),
    ),
    regexQuoteMeta: goFunc([S], quoteMeta),

    // dates
    now: goFunc([], now),
    date: goFunc([S, A], (fmt: string, d: unknown) => formatTime(dateOf(d), fmt, "Local")),
    dateInZone: goFunc(
      [S, A, S],
      (fmt: string, d: unknown, zone: string) => formatTime(dateOf(d), fmt, zoneOrUTC(zone)),
    ),
    date_in_zone: goFunc(
      [S, A, S],
      (fmt: string, d: unknown, zone: string) => formatTime(dateOf(d), fmt, zoneOrUTC(zone)),
    ),
    htmlDate: goFunc([A], (d: unknown) => formatTime(dateOf(d), "2006-01-02", "Local")),
    htmlDateInZone: goFunc(
      [A, S],
      (d: unknown, zone: string) => formatTime(dateOf(d), "2006-01-02", zoneOrUTC(zone)),
    ),
    unixEpoch: goFunc([A], (d: unknown) => {
      if (!(d instanceof GoTime)) {
        throw new Error(`wrong type for value; expected time.Time; got ${typeName(d)}`);
      }
      return String(d.Unix());
    }),
  };
  f.biggest = f.max;
  // On Linux, Go's filepath functions are its path functions.
  for (const name of ["Base", "Clean", "Dir", "Ext", "IsAbs"]) {
    f["os" + name] = f[name[0].toLowerCase() + name.slice(1)];
  }
  // A must* form returns as an error what its plain form panics with: the template fails alike.
  for (
    const name of [
      "append",
      "push",
      "prepend",
      "first",
      "rest",
      "last",
      "initial",
      "reverse",
      "uniq",
      "without",
      "has",
      "slice",
      "compact",
      "regexFind",
      "regexFindAll",
      "regexReplaceAll",
      "regexReplaceAllLiteral",
      "regexSplit",
    ]
  ) f["must" + name[0].toUpperCase() + name.slice(1)] = f[name];
  return { ...f, ...moreSprigFunctions() };
}

function tryJSON(f: () => string): string {
  try {
    return f();
  } catch {
    return "";
  }
}
