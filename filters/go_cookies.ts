/**
 * Go's `*http.Cookie` for builder templates: the cookies of a request's
 * Cookie header (`readCookies`) and of a response's Set-Cookie fields
 * (`readSetCookies`), with Go's validity rules, attributes and `String()`.
 *
 * @module
 */

import { parseTime, ZERO_TIME } from "./template/gotime_parse.ts";
import { formatTime } from "./template/gotime.ts";
import { stringSlice } from "./template/gotypes.ts";
import { type GoTime, nilSlice, withGoType } from "./template/values.ts";

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Go's validCookieValueByte: 0x20-0x7e but '"', ';' and '\'.
const COOKIE_VALUE = /^[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*$/;
/** Go's SameSite modes, as the ints a template prints. */
const SAME_SITE: Record<string, number> = { lax: 2, strict: 3, none: 4 };
const SAME_SITE_DEFAULT = 1;

/** Go's parseCookieValue: the value without its quotes, or undefined when invalid. */
function cookieValue(raw: string, allowQuotes: boolean): string | undefined {
  let v = raw;
  if (allowQuotes && v.length > 1 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  return COOKIE_VALUE.test(v) ? v : undefined;
}

/** Go's `*http.Cookie`. */
export class CookieView {
  /** The cookie name. */
  readonly Name: string;
  /** The cookie value. */
  readonly Value: string;
  Path = "";
  Domain = "";
  Expires: GoTime = ZERO_TIME;
  RawExpires = "";
  /** 0: unset; negative: delete now ("Max-Age=0"); positive: seconds. */
  MaxAge = 0;
  Secure = false;
  HttpOnly = false;
  /** 0 unset, 1 default, 2 Lax, 3 Strict, 4 None. */
  SameSite = 0;
  /** The Set-Cookie line it came from ("" for a request cookie). */
  Raw = "";
  /** Attributes it did not understand ([]string, nil when none). */
  Unparsed: string[] = nilSlice("[]string") as string[];

  constructor(name: string, value: string) {
    this.Name = name;
    this.Value = value;
  }

  /** Go's `Cookie.String()`: "name=value" and the attributes a Set-Cookie would carry. */
  String(): string {
    const value = / |,/.test(this.Value) ? `"${this.Value}"` : this.Value;
    let s = `${this.Name}=${value}`;
    if (this.Path) s += `; Path=${this.Path}`;
    if (this.Domain) s += `; Domain=${this.Domain.replace(/^\./, "")}`;
    if (this.Expires.ms !== ZERO_TIME.ms && new Date(this.Expires.ms).getUTCFullYear() >= 1601) {
      s += `; Expires=${formatTime(this.Expires, "Mon, 02 Jan 2006 15:04:05 GMT", "UTC")}`;
    }
    if (this.MaxAge > 0) s += `; Max-Age=${this.MaxAge}`;
    else if (this.MaxAge < 0) s += "; Max-Age=0";
    if (this.HttpOnly) s += "; HttpOnly";
    if (this.Secure) s += "; Secure";
    if (this.SameSite === 2) s += "; SameSite=Lax";
    else if (this.SameSite === 3) s += "; SameSite=Strict";
    else if (this.SameSite === 4) s += "; SameSite=None";
    return s;
  }
}
withGoType(CookieView.prototype, { name: "*http.Cookie" });

/**
 * Calls `visit` with the name and value of each cookie of a Cookie header
 * that Go's readCookies keeps (a valid name and value, quotes around the
 * value removed), in order, until it returns true.
 */
function visitCookies(header: string, visit: (name: string, value: string) => boolean): void {
  for (let part of header.split(";")) {
    part = part.trim();
    if (!part) continue;
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    if (!COOKIE_NAME.test(name)) continue;
    const value = cookieValue(eq < 0 ? "" : part.slice(eq + 1), true);
    if (value !== undefined && visit(name, value)) return;
  }
}

/**
 * The cookies of a Cookie header as Go's readCookies reads them; only those
 * named `filter` when it is given. `decode` turns a header value into Go's string.
 */
export function requestCookies(
  header: string | null,
  decode: (value: string) => string,
  filter?: string,
): CookieView[] {
  const out: CookieView[] = [];
  if (!header) return out;
  visitCookies(header, (name, value) => {
    if (filter === undefined || name === filter) out.push(new CookieView(name, decode(value)));
    return false;
  });
  return out;
}

/** Go's `Request.Cookie(name).Value`: the first valid cookie called `name`, or "". */
export function requestCookie(header: string | null, name: string): string {
  let found = "";
  if (header) {
    visitCookies(header, (candidate, value) => {
      if (candidate !== name) return false;
      found = value;
      return true;
    });
  }
  return found;
}

function expiresOf(value: string): GoTime | undefined {
  for (const layout of ["Mon, 02 Jan 2006 15:04:05 MST", "Mon, 02-Jan-2006 15:04:05 MST"]) {
    try {
      return parseTime(layout, value);
    } catch {
      // try the next layout
    }
  }
  return undefined;
}

/** The cookies of Set-Cookie lines as Go's readSetCookies reads them, attributes included. */
export function responseCookies(lines: readonly string[]): CookieView[] {
  const out: CookieView[] = [];
  for (const line of lines) {
    const parts = line.trim().split(";");
    if (parts.length === 1 && parts[0] === "") continue;
    const first = parts[0].trim();
    const eq = first.indexOf("=");
    if (eq < 0) continue;
    const name = first.slice(0, eq);
    if (!COOKIE_NAME.test(name)) continue;
    const value = cookieValue(first.slice(eq + 1), true);
    if (value === undefined) continue;
    const c = new CookieView(name, value);
    c.Raw = line;
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i].trim();
      if (!part) continue;
      const at = part.indexOf("=");
      const attr = at < 0 ? part : part.slice(0, at);
      // deno-lint-ignore no-control-regex
      if (/[^\x00-\x7f]/.test(attr)) continue;
      const val = cookieValue(at < 0 ? "" : part.slice(at + 1), false);
      let known = val !== undefined;
      if (known) {
        switch (attr.toLowerCase()) {
          case "samesite":
            c.SameSite = SAME_SITE[val!.toLowerCase()] ?? SAME_SITE_DEFAULT;
            break;
          case "secure":
            c.Secure = true;
            break;
          case "httponly":
            c.HttpOnly = true;
            break;
          case "domain":
            c.Domain = val!;
            break;
          case "max-age": {
            const secs = /^[+-]?[0-9]+$/.test(val!) ? Number(val) : NaN;
            if (Number.isNaN(secs) || (secs !== 0 && val![0] === "0")) known = false;
            else c.MaxAge = secs <= 0 ? -1 : secs;
            break;
          }
          case "expires": {
            c.RawExpires = val!;
            const t = expiresOf(val!);
            if (t) c.Expires = t;
            else {
              c.Expires = ZERO_TIME;
              known = false;
            }
            break;
          }
          case "path":
            c.Path = val!;
            break;
          default:
            known = false;
        }
      }
      if (!known) c.Unparsed = stringSlice([...c.Unparsed, part]);
    }
    out.push(c);
  }
  return out;
}
