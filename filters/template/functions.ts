/**
 * Template functions: how a Go-typed signature is described in TypeScript,
 * and the text/template builtins (and, or, not, len, index, slice, print,
 * printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery, call).
 *
 * @module
 */

import { formatValue, sprint, sprintf, sprintln, sprintStruct } from "./fmt.ts";
import {
  byteLength,
  byteSlice,
  compareStrings,
  GoFloat,
  goTypeOf,
  isPrint,
  isTrue,
  JsonNumber,
  kindOf,
  mapIndex,
  stringer,
  typeName,
  utf8,
} from "./values.ts";

/**
 * A Go parameter type, as far as argument checking needs it: `any` is
 * `interface{}`, `value` is `reflect.Value` (missing values pass through as
 * `undefined`), `map` is `map[string]interface{}`, `slice` is `[]interface{}`.
 */
export type ParamType = "any" | "value" | "string" | "int" | "float64" | "bool" | "map" | "slice";

/** A template function with a Go signature. */
export interface GoFunction {
  /** Fixed parameter types. */
  readonly params: readonly ParamType[];
  /** Element type of a trailing `...` parameter, if variadic. */
  readonly variadic?: ParamType;
  /** The implementation; throwing an Error is Go's non-nil error result. */
  readonly fn: (...args: never[]) => unknown;
  /** Whether the result is `interface{}` (matters only for error messages). */
  readonly returnsInterface?: boolean;
}

/** What callers may register: a typed {@linkcode GoFunction} or a plain function (variadic `any`). */
export type TemplateFunction = GoFunction | ((...args: never[]) => unknown);

/** Declares a function with a Go signature. */
export function goFunc(
  params: readonly ParamType[],
  fn: (...args: never[]) => unknown,
  variadic?: ParamType,
): GoFunction {
  return { params, fn, variadic };
}

/** Normalizes a registered function to a {@linkcode GoFunction}. */
export function toGoFunction(f: TemplateFunction): GoFunction {
  return typeof f === "function" ? { params: [], variadic: "any", fn: f } : f;
}

/** The Go spelling of a parameter type, for error messages. */
export function paramTypeName(t: ParamType): string {
  switch (t) {
    case "any":
      return "interface {}";
    case "value":
      return "reflect.Value";
    case "map":
      return "map[string]interface {}";
    case "slice":
      return "[]interface {}";
    default:
      return t;
  }
}

/** Go's indirectInterface: a nil interface becomes the invalid value. */
export function indirectInterface(v: unknown): unknown {
  return v === null ? undefined : v;
}

/** The value Go's printableValue hands to fmt (used by html, js, urlquery). */
function printable(v: unknown): unknown {
  if (v === undefined || v === null) return "<no value>";
  if (kindOf(v) === "ptr" && !stringer(v)) return { [PRINT_AS_STRUCT]: v };
  return v;
}

const PRINT_AS_STRUCT = Symbol("printAsStruct");

/** Go's evalArgs: the text of the arguments as fmt.Sprint would print them. */
export function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  const parts = args.map(printable);
  if (parts.some((p) => typeof p === "object" && p !== null && PRINT_AS_STRUCT in p)) {
    // Dereferenced structs print as {..}; splice them in as pre-printed text.
    let out = "";
    let prevString = false;
    parts.forEach((p, i) => {
      const isStruct = typeof p === "object" && p !== null && PRINT_AS_STRUCT in p;
      const isString = typeof p === "string" || p instanceof JsonNumber;
      if (i > 0 && !isString && !prevString) out += " ";
      out += isStruct
        ? sprintStruct((p as Record<symbol, object>)[PRINT_AS_STRUCT])
        : formatValue(p);
      prevString = isString;
    });
    return out;
  }
  return sprint(parts);
}

/** Go's template.HTMLEscapeString. */
export function htmlEscape(s: string): string {
  if (!/['"&<>\0]/.test(s)) return s;
  return s.replace(/['"&<>\0]/g, (c) => {
    switch (c) {
      case "\0":
        return "\uFFFD";
      case '"':
        return "&#34;";
      case "'":
        return "&#39;";
      case "&":
        return "&amp;";
      case "<":
        return "&lt;";
      default:
        return "&gt;";
    }
  });
}

/** Go's template.JSEscapeString. */
export function jsEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    switch (ch) {
      case "\\":
        out += "\\\\";
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case "<":
        out += "\\u003C";
        continue;
      case ">":
        out += "\\u003E";
        continue;
      case "&":
        out += "\\u0026";
        continue;
      case "=":
        out += "\\u003D";
        continue;
    }
    if (r < 0x20) out += "\\u00" + r.toString(16).toUpperCase().padStart(2, "0");
    else if (r < 0x80 || isPrint(r)) out += ch;
    else out += "\\u" + r.toString(16).toUpperCase().padStart(4, "0");
  }
  return out;
}

/** Go's url.QueryEscape. */
export function queryEscape(s: string): string {
  let out = "";
  for (const b of utf8(s)) {
    if (
      (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ||
      b === 0x2d || b === 0x5f || b === 0x2e || b === 0x7e
    ) out += String.fromCharCode(b);
    else if (b === 0x20) out += "+";
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

// ---- comparison ----

type BasicKind = "invalid" | "bool" | "int" | "float" | "string";

function basicKind(v: unknown): BasicKind {
  switch (kindOf(v)) {
    case "bool":
      return "bool";
    case "int":
      return "int";
    case "float":
      return "float";
    case "string":
      return "string";
  }
  return "invalid";
}

function num(v: unknown): number {
  if (v instanceof GoFloat) return v.value;
  return Number(v);
}

function str(v: unknown): string {
  return v instanceof JsonNumber ? v.text : (v as string);
}

const ERR_BAD_COMPARISON_TYPE = "invalid type for comparison";
const ERR_BAD_COMPARISON = "incompatible types for comparison";

function isNilValue(v: unknown): boolean {
  return v === undefined || v === null;
}

/** Go's `eq`: arg1 == arg2 || arg1 == arg3 ... */
export function eq(arg1: unknown, ...rest: unknown[]): boolean {
  arg1 = indirectInterface(arg1);
  if (rest.length === 0) throw new Error("missing argument for comparison");
  const k1 = basicKind(arg1);
  for (let arg of rest) {
    arg = indirectInterface(arg);
    const k2 = basicKind(arg);
    let truth = false;
    if (k1 !== k2) {
      if (arg1 !== undefined && arg !== undefined) throw new Error(ERR_BAD_COMPARISON);
    } else {
      switch (k1) {
        case "bool":
          truth = arg1 === arg;
          break;
        case "int":
        case "float":
          truth = num(arg1) === num(arg);
          break;
        case "string":
          truth = str(arg1) === str(arg);
          break;
        default: {
          const kind1 = kindOf(arg1);
          const kind2 = kindOf(arg);
          if (kind1 !== kind2 && kind1 !== "invalid" && kind2 !== "invalid") {
            throw new Error(
              sprintf("non-comparable types %s: %v, %s: %v", [
                arg1,
                typeName(arg1),
                typeName(arg),
                arg,
              ]),
            );
          }
          if (isNilValue(arg1) || isNilValue(arg)) truth = isNilValue(arg) === isNilValue(arg1);
          else {
            if (kind2 === "map" || kind2 === "slice" || kind2 === "func") {
              throw new Error(sprintf("non-comparable type %s: %v", [arg, typeName(arg)]));
            }
            truth = arg1 === arg;
          }
        }
      }
    }
    if (truth) return true;
  }
  return false;
}

/** Go's `lt`. */
export function lt(arg1: unknown, arg2: unknown): boolean {
  arg1 = indirectInterface(arg1);
  const k1 = basicKind(arg1);
  if (k1 === "invalid") throw new Error(ERR_BAD_COMPARISON_TYPE);
  arg2 = indirectInterface(arg2);
  const k2 = basicKind(arg2);
  if (k2 === "invalid") throw new Error(ERR_BAD_COMPARISON_TYPE);
  if (k1 !== k2) throw new Error(ERR_BAD_COMPARISON);
  switch (k1) {
    case "bool":
      throw new Error(ERR_BAD_COMPARISON_TYPE);
    case "string":
      return compareStrings(str(arg1), str(arg2)) < 0;
    default:
      return num(arg1) < num(arg2);
  }
}

function le(a: unknown, b: unknown): boolean {
  return lt(a, b) || eq(a, b);
}

// ---- indexing ----

function indexArg(index: unknown, cap: number): number {
  let x: number;
  if (typeof index === "number" && Number.isInteger(index)) x = index;
  else if (typeof index === "bigint") x = Number(index);
  else if (index === undefined) throw new Error("cannot index slice/array with nil");
  else throw new Error(`cannot index slice/array with type ${typeName(index)}`);
  if (x < 0 || x > cap) throw new Error(`index out of range: ${x}`);
  return x;
}

function lengthOf(v: unknown): number {
  if (typeof v === "string") return byteLength(v);
  if (v instanceof JsonNumber) return byteLength(v.text);
  return (v as ArrayLike<unknown>).length;
}

/** Go's `index`: item[i][j]... over slices, strings and maps. */
export function index(item: unknown, ...indexes: unknown[]): unknown {
  item = indirectInterface(item);
  if (item === undefined) throw new Error("index of untyped nil");
  for (let ix of indexes) {
    ix = indirectInterface(ix);
    if (item === null) throw new Error("index of nil pointer");
    const kind = kindOf(item);
    if (kind === "slice" || kind === "string") {
      const len = lengthOf(item);
      const x = indexArg(ix, len);
      if (x === len) {
        throw new Error(`reflect: ${kind === "string" ? "string" : "slice"} index out of range`);
      }
      if (kind === "string") item = utf8(str(item))[x];
      else {
        const elem = (item as ArrayLike<unknown>)[x];
        item = elem === undefined ? null : elem;
      }
    } else if (kind === "map") {
      if (ix === undefined) throw new Error("value is nil; should be of type string");
      if (typeof ix !== "string") {
        throw new Error(`value has type ${typeName(ix)}; should be string`);
      }
      const found = mapIndex(item as Record<string, unknown>, ix);
      item = found !== undefined ? found : (goTypeOf(item as object)?.zero?.() ?? null);
    } else throw new Error(`can't index item of type ${typeName(item)}`);
  }
  return item;
}

/** Go's `slice`: item[i:j] / item[i:j:k] over strings and slices. */
export function slice(item: unknown, ...indexes: unknown[]): unknown {
  item = indirectInterface(item);
  if (item === undefined) throw new Error("slice of untyped nil");
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  const kind = kindOf(item);
  if (kind === "string" && indexes.length === 3) throw new Error("cannot 3-index slice a string");
  if (kind !== "string" && kind !== "slice") {
    throw new Error(`can't slice item of type ${typeName(item)}`);
  }
  const len = lengthOf(item);
  const idx = [0, len, len];
  indexes.forEach((ix, i) => (idx[i] = indexArg(indirectInterface(ix), len)));
  if (idx[0] > idx[1]) throw new Error(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) {
    throw new Error(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  }
  if (kind === "string") return byteSlice(str(item), idx[0], idx[1]);
  if (item instanceof Uint8Array) return item.subarray(idx[0], idx[1]);
  return (item as unknown[]).slice(idx[0], idx[1]);
}

/** Go's `len`. */
export function length(item: unknown): number {
  if (item === null) throw new Error("len of nil pointer");
  if (item === undefined) throw new Error("reflect: call of reflect.Value.Type on zero Value");
  switch (kindOf(item)) {
    case "string":
    case "slice":
      return lengthOf(item);
    case "map":
      return Object.keys(item as object).length;
  }
  throw new Error(`len of type ${typeName(item)}`);
}

/** Go's `call`: calls a function value with arguments. */
export function call(fn: unknown, ...args: unknown[]): unknown {
  fn = indirectInterface(fn);
  if (fn === undefined) throw new Error("call of nil");
  if (typeof fn !== "function") throw new Error(`non-function of type ${typeName(fn)}`);
  return (fn as (...a: unknown[]) => unknown)(...args.map((a) => (a === undefined ? null : a)));
}

const V: ParamType = "value";

/** The text/template builtins. `and` and `or` are evaluated lazily by the executor. */
export const BUILTINS: ReadonlyMap<string, GoFunction> = new Map<string, GoFunction>([
  ["and", { params: [V], variadic: V, fn: () => undefined }],
  ["or", { params: [V], variadic: V, fn: () => undefined }],
  ["call", { params: [V], variadic: V, fn: call as GoFunction["fn"], returnsInterface: true }],
  ["html", goFunc([], (...a: unknown[]) => htmlEscape(evalArgs(a)), "any")],
  ["js", goFunc([], (...a: unknown[]) => jsEscape(evalArgs(a)), "any")],
  ["urlquery", goFunc([], (...a: unknown[]) => queryEscape(evalArgs(a)), "any")],
  ["index", { params: [V], variadic: V, fn: index as GoFunction["fn"], returnsInterface: true }],
  ["slice", { params: [V], variadic: V, fn: slice as GoFunction["fn"] }],
  ["len", goFunc([V], length as GoFunction["fn"])],
  ["not", goFunc([V], (a: unknown) => !isTrue(indirectInterface(a)))],
  ["print", goFunc([], (...a: unknown[]) => sprint(a), "any")],
  ["printf", goFunc(["string"], (f: string, ...a: unknown[]) => sprintf(f, a), "any")],
  ["println", goFunc([], (...a: unknown[]) => sprintln(a), "any")],
  ["eq", goFunc([V], eq as GoFunction["fn"], V)],
  ["ne", goFunc([V, V], (a: unknown, b: unknown) => !eq(a, b))],
  ["lt", goFunc([V, V], lt as GoFunction["fn"])],
  ["le", goFunc([V, V], le as GoFunction["fn"])],
  ["gt", goFunc([V, V], (a: unknown, b: unknown) => !le(a, b))],
  ["ge", goFunc([V, V], (a: unknown, b: unknown) => !lt(a, b))],
]);
