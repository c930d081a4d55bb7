/**
 * Go's `url.ParseQuery`, as Easegress reads a request's query
 * (`URL.Query()`) for an HTTPServer's `queries` conditions and the
 * signature Validator: pairs split on "&" only, "+" a space, and a pair
 * with a malformed escape or a ";" dropped (Go 1.17 and later), where
 * `URLSearchParams` keeps them.
 *
 * @module
 */

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Go's `url.QueryUnescape`, or undefined for a malformed escape. */
function queryUnescape(text: string): string | undefined {
  if (!text.includes("%")) return text.replaceAll("+", " ");
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "%") {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (ch === "+") bytes.push(0x20);
    else for (const b of utf8.encode(ch)) bytes.push(b);
  }
  return utf8Decoder.decode(new Uint8Array(bytes));
}

/**
 * Go's `url.ParseQuery` of a raw query (without "?"): each key's values in
 * order, pairs with bad escapes or semicolons dropped. `get(key)?.[0]` is
 * Go's `Values.Get`.
 */
export function parseGoQuery(query: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const pair of query.split("&")) {
    if (!pair || pair.includes(";")) continue;
    const eq = pair.indexOf("=");
    const key = queryUnescape(eq < 0 ? pair : pair.slice(0, eq));
    const value = queryUnescape(eq < 0 ? "" : pair.slice(eq + 1));
    if (key === undefined || value === undefined) continue;
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }
  return values;
}
