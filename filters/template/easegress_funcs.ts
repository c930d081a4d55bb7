/**
 * Easegress's own template functions, added to sprig's by the builder
 * filters and the adaptors' templates: float arithmetic (`addf subf mulf
 * divf`), `log level msg`, `mergeObject`, `jsonEscape`, and those of its later
 * v2 releases: `header`, `username`, `urlQueryEscape`, `urlQueryUnescape` and
 * `panic`.
 *
 * @module
 */

import { canonicalHeaderKey } from "../header_fields.ts";
import { formatValue } from "./fmt.ts";
import { goFunc, type GoFunction, type ParamType, queryEscape } from "./functions.ts";
import { goQueryUnescape } from "./go_url.ts";
import { quoteJSON } from "./json.ts";
import { parseGoFloat } from "./strconv.ts";
import { float64, GoFloat, isMap, JsonNumber, typeName } from "./values.ts";

/** Where `log` writes. */
export interface TemplateLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const A: ParamType = "any";

/**
 * The method `username` calls on what it is given: the user of the request's
 * Basic credentials, as Go's `Request.BasicAuth` reads them ("" without
 * them). A symbol, so templates cannot call it by a name Go's request lacks.
 */
export const BASIC_AUTH_USER: unique symbol = Symbol("BasicAuth");

interface BasicAuthSource {
  [BASIC_AUTH_USER](): string;
}

function hasBasicAuth(v: unknown): v is BasicAuthSource {
  return typeof v === "object" && v !== null && BASIC_AUTH_USER in v;
}

function parseFloatStrict(s: string): number {
  const f = /^[+-]?(inf|infinity|nan)$/i.test(s) || /[0-9]/.test(s) ? parseGoFloat(s) : undefined;
  if (f === undefined) {
    throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`);
  }
  return f;
}

/** Easegress's toFloat64: numbers, json.Number and numeric strings; anything else is an error. */
export function toFloat(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof GoFloat) return v.value;
  if (v instanceof JsonNumber) return parseFloatStrict(v.text);
  if (typeof v === "string") return parseFloatStrict(v);
  throw new Error(`cannot convert ${formatValue(v)} to float64`);
}

type Dict = Record<string, unknown>;

/** A new map: `dst` deep-merged with `src`, `src` winning. */
function mergeMaps(dst: Dict, src: Dict): Dict {
  const out: Dict = { ...dst };
  for (const [k, sv] of Object.entries(src)) {
    const dv = out[k];
    out[k] = isMap(dv) && isMap(sv) ? mergeMaps(dv, sv) : sv;
  }
  return out;
}

/** Builds Easegress's extra template functions; `log` writes to `logger`. */
export function easegressFunctions(logger: TemplateLogger): Record<string, GoFunction> {
  return {
    addf: goFunc([A, A], (a: unknown, b: unknown) => float64(toFloat(a) + toFloat(b))),
    subf: goFunc([A, A], (a: unknown, b: unknown) => float64(toFloat(a) - toFloat(b))),
    mulf: goFunc([A, A], (a: unknown, b: unknown) => float64(toFloat(a) * toFloat(b))),
    divf: goFunc([A, A], (a: unknown, b: unknown) => {
      const d = toFloat(b);
      if (d === 0) throw new Error("divisor must not be zero");
      return float64(toFloat(a) / d);
    }),
    log: goFunc(["string", "string"], (level: string, msg: string) => {
      switch (level.toLowerCase()) {
        case "debug":
          logger.debug(msg);
          break;
        case "info":
          logger.info(msg);
          break;
        case "warn":
          logger.warn(msg);
          break;
        case "error":
          logger.error(msg);
          break;
      }
      return "";
    }),
    mergeObject: goFunc(
      [],
      (...objs: Dict[]) => objs.reduce<Dict>((acc, o) => mergeMaps(acc, o), {}),
      "map",
    ),
    jsonEscape: goFunc(["string"], (s: string) => quoteJSON(s, true).slice(1, -1)),
    // Go's Header.Get on a header map such as `.requests.DEFAULT.Header`.
    header: goFunc([A, "string"], (header: unknown, key: string) => {
      if (!isMap(header)) {
        throw new Error(`wrong type for value; expected http.Header; got ${typeName(header)}`);
      }
      const values = header[canonicalHeaderKey(key)];
      return Array.isArray(values) && values.length ? String(values[0]) : "";
    }),
    username: goFunc([A], (request: unknown) => {
      if (!hasBasicAuth(request)) {
        throw new Error(`${typeName(request)} has no BasicAuth: username takes a request`);
      }
      return request[BASIC_AUTH_USER]();
    }),
    urlQueryEscape: goFunc(["string"], queryEscape),
    urlQueryUnescape: goFunc(["string"], goQueryUnescape),
    panic: goFunc([A], (v: unknown) => {
      throw new Error(v instanceof Error ? v.message : formatValue(v));
    }, "any"),
  };
}
