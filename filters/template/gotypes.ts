/**
 * Go types that templates see in request data: `http.Header`
 * (map[string][]string with Get/Values methods), `url.Values` and `[]string`.
 *
 * @module
 */

import { canonicalHeaderKey } from "../header_fields.ts";
import { type GoType, withGoType } from "./values.ts";

export { canonicalHeaderKey };

/** Go's `[]string`. */
export const STRING_SLICE: GoType = { name: "[]string" };

/** Marks an array as a Go `[]string`. */
export function stringSlice(values: string[]): string[] {
  return withGoType(values, STRING_SLICE);
}

function multiValueMap(name: string, canonical: boolean): GoType {
  const key = canonical ? canonicalHeaderKey : (k: string) => k;
  return {
    name,
    zero: () => stringSlice([]),
    methods: {
      Get(this: unknown, k: unknown): string {
        const vs = (this as Record<string, string[]>)[key(String(k))];
        return vs && Object.hasOwn(this as object, key(String(k))) && vs.length ? vs[0] : "";
      },
      Values(this: unknown, k: unknown): string[] {
        const m = this as Record<string, string[]>;
        const name = key(String(k));
        return Object.hasOwn(m, name) ? m[name] : stringSlice([]);
      },
      Has(this: unknown, k: unknown): boolean {
        return Object.hasOwn(this as object, key(String(k)));
      },
    },
  };
}

/** Go's `http.Header`. */
export const HTTP_HEADER: GoType = multiValueMap("http.Header", true);

/** Go's `url.Values`. */
export const URL_VALUES: GoType = multiValueMap("url.Values", false);

/** Builds an `http.Header` from names (canonicalized) and their values. */
export function httpHeader(entries: Iterable<[string, string[]]>): Record<string, string[]> {
  const h: Record<string, string[]> = {};
  for (const [name, values] of entries) {
    const k = canonicalHeaderKey(name);
    (h[k] ??= stringSlice([])).push(...values);
  }
  return withGoType(h, HTTP_HEADER);
}

/** Go's `url.ParseQuery` (lenient: bad pairs are skipped, as Go's Query() does). */
export function urlValues(rawQuery: string): Record<string, string[]> {
  const v: Record<string, string[]> = {};
  for (const part of rawQuery.split(/[&]/)) {
    if (!part || part.includes(";")) continue;
    const eq = part.indexOf("=");
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawVal = eq < 0 ? "" : part.slice(eq + 1);
    try {
      const k = decodeURIComponent(rawKey.replaceAll("+", " "));
      const val = decodeURIComponent(rawVal.replaceAll("+", " "));
      (v[k] ??= stringSlice([])).push(val);
    } catch {
      continue;
    }
  }
  return withGoType(v, URL_VALUES);
}
