/**
 * Go's encoding/json over the engine's value model: `json.Marshal`,
 * `MarshalIndent`, an Encoder without HTML escaping, and `Unmarshal` into
 * `interface{}` (numbers as float64, or exact `json.Number` text).
 *
 * @module
 */

import { structFields } from "./fmt.ts";
import { formatFloat } from "./strconv.ts";
import { formatTime } from "./gotime.ts";
import {
  float64,
  GoFloat,
  type GoTime,
  goTypeOf,
  JsonNumber,
  kindOf,
  methodOf,
  sortedKeys,
  typeName,
} from "./values.ts";

/** Options for {@linkcode marshalJSON}. */
export interface MarshalOptions {
  /** Escape <, > and & as \u003c etc. (json.Marshal does). @default {true} */
  escapeHTML?: boolean;
  /** Indent nested values with this string, one element per line. */
  indent?: string;
}

const HEX = "0123456789abcdef";

/** Go's JSON string encoding. */
export function quoteJSON(s: string, escapeHTML: boolean): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20) {
      rep = c === 0x0a
        ? "\\n"
        : c === 0x0d
        ? "\\r"
        : c === 0x09
        ? "\\t"
        : "\\u00" + HEX[c >> 4] + HEX[c & 15];
    } else if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = "\\\\";
    else if (escapeHTML && (c === 0x3c || c === 0x3e || c === 0x26)) {
      rep = "\\u00" + HEX[c >> 4] + HEX[c & 15];
    } else if (c === 0x2028 || c === 0x2029) rep = "\\u202" + HEX[c & 15];
    else if (c >= 0xd800 && c <= 0xdfff) {
      const pairOK = c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (pairOK) {
        i++;
        continue;
      }
      rep = "\\ufffd";
    }
    if (rep !== undefined) {
      out += s.slice(start, i) + rep;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

/** Go's JSON float encoding ('f' format, 'e' for very small or large values). */
export function formatJSONFloat(f: number): string {
  if (!Number.isFinite(f)) throw new Error(`json: unsupported value: ${formatFloat(f, "g", -1)}`);
  const abs = Math.abs(f);
  let fmt = "f";
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) fmt = "e";
  let s = formatFloat(f, fmt, -1);
  if (fmt === "e") s = s.replace(/e-0(\d)$/, "e-$1");
  return s;
}

const VALID_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * Go's `json.Marshal` (with `indent`, `MarshalIndent(v, "", indent)`).
 * Throws like Go for NaN, infinities and functions.
 */
export function marshalJSON(v: unknown, options: MarshalOptions = {}): string {
  const escapeHTML = options.escapeHTML ?? true;
  const indent = options.indent;
  const seen = new Set<object>();
  const enc = (x: unknown, depth: number): string => {
    const nl = indent === undefined ? "" : "\n" + indent.repeat(depth + 1);
    const close = indent === undefined ? "" : "\n" + indent.repeat(depth);
    const colon = indent === undefined ? ":" : ": ";
    switch (kindOf(x)) {
      case "invalid":
      case "nil":
        return "null";
      case "bool":
        return x ? "true" : "false";
      case "int":
        return String(x);
      case "float":
        return formatJSONFloat(x instanceof GoFloat ? x.value : (x as number));
      case "string": {
        if (!(x instanceof JsonNumber)) return quoteJSON(x as string, escapeHTML);
        const text = x.text || "0";
        if (!VALID_NUMBER.test(text)) {
          throw new Error(`json: invalid number literal ${quoteJSON(text, false)}`);
        }
        return text;
      }
      case "func":
        throw new Error(`json: unsupported type: ${typeName(x)}`);
      case "struct":
        return quoteJSON(
          formatTime(x as GoTime, "2006-01-02T15:04:05.999999999Z07:00", "Local"),
          escapeHTML,
        );
    }
    const obj = x as object;
    if (seen.has(obj)) {
      throw new Error(`json: unsupported value: encountered a cycle via ${typeName(obj)}`);
    }
    seen.add(obj);
    try {
      if (x instanceof Uint8Array) return '"' + x.toBase64() + '"';
      if (Array.isArray(x)) {
        if (x.length === 0) return goTypeOf(x)?.isNil ? "null" : "[]";
        return "[" + x.map((e) => nl + enc(e === undefined ? null : e, depth + 1)).join(",") +
          close + "]";
      }
      let keys: string[];
      let get: (k: string) => unknown;
      if (kindOf(x) === "map") {
        keys = sortedKeys(obj);
        get = (k) => (obj as Record<string, unknown>)[k];
      } else {
        const custom = methodOf(x, "MarshalJSON");
        if (custom) return String(custom());
        keys = structFields(obj);
        get = (k) => (obj as Record<string, unknown>)[k];
      }
      if (keys.length === 0) return "{}";
      return "{" +
        keys.map((k) => {
          const val = get(k);
          return nl + quoteJSON(k, escapeHTML) + colon +
            enc(val === undefined ? null : val, depth + 1);
        }).join(",") + close + "}";
    } finally {
      seen.delete(obj);
    }
  };
  return enc(v, 0);
}

/**
 * Go's `json.Unmarshal` into `interface{}`: objects become maps, arrays
 * slices, numbers float64 (or {@linkcode JsonNumber} with `useNumber`).
 * Throws a SyntaxError on malformed input.
 */
export function parseJSON(text: string, useNumber = false): unknown {
  return JSON.parse(text, (_key, value, context?: { source?: string }) => {
    if (typeof value !== "number") return value;
    if (useNumber) return new JsonNumber(context?.source ?? String(value));
    return float64(value);
  });
}
