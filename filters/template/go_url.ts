/**
 * Go's `url.Parse` and `URL.String()`, enough for sprig's `urlParse` and
 * `urlJoin`: scheme, opaque, userinfo, host, path, query and fragment as Go
 * splits, unescapes and escapes them (no WHATWG normalization: "HTTP://A/b/../c"
 * keeps its path).
 *
 * @module
 */

/** The parts of a URL, as Go's `url.URL` holds them. */
export interface GoUrl {
  scheme: string;
  opaque: string;
  /** The userinfo as written (escaped), or undefined when there is none. */
  userinfo: string | undefined;
  host: string;
  /** Unescaped. */
  path: string;
  rawQuery: string;
  forceQuery: boolean;
  /** Unescaped. */
  fragment: string;
}

type Mode = "path" | "host" | "fragment" | "userinfo";

function shouldEscape(c: string, mode: Mode): boolean {
  if (/[A-Za-z0-9]/.test(c)) return false;
  if (mode === "host" && "!$&'()*+,;=:[]<>\"".includes(c)) return false;
  if ("-_.~".includes(c)) return false;
  if ("$&+,/:;=?@".includes(c)) {
    if (mode === "path") return c === "?";
    if (mode === "userinfo") return c === "@" || c === "/" || c === "?" || c === ":";
    return false;
  }
  if (mode === "fragment" && "!()*".includes(c)) return false;
  return true;
}

/** Go's url.escape of `s` in `mode`. */
export function goEscape(s: string, mode: Mode): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && !shouldEscape(c, mode)
      ? c
      : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Go's url.unescape (percent-escapes only; "+" stays); throws Go's error on a bad escape. */
function goUnescape(s: string): string {
  if (!s.includes("%")) return s;
  const bytes: number[] = [];
  const raw = new TextEncoder().encode(s);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x25) {
      bytes.push(raw[i]);
      continue;
    }
    const hex = s.slice(i, i + 3);
    if (!/^%[0-9A-Fa-f]{2}$/.test(hex)) {
      throw new Error(`invalid URL escape ${JSON.stringify(hex)}`);
    }
    bytes.push(parseInt(hex.slice(1), 16));
    i += 2;
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Go's `url.QueryUnescape`: "+" is a space; throws Go's error on a bad escape. */
export function goQueryUnescape(s: string): string {
  return goUnescape(s.replaceAll("+", " "));
}

/** Go's `url.Parse`; throws an Error worded as Go's (`parse "x": ...`). */
export function parseGoUrl(raw: string): GoUrl {
  const fail = (why: string) => new Error(`parse ${JSON.stringify(raw)}: ${why}`);
  const hash = raw.indexOf("#");
  let rest = hash < 0 ? raw : raw.slice(0, hash);
  const url: GoUrl = {
    scheme: "",
    opaque: "",
    userinfo: undefined,
    host: "",
    path: "",
    rawQuery: "",
    forceQuery: false,
    fragment: "",
  };
  try {
    if (hash >= 0) url.fragment = goUnescape(raw.slice(hash + 1));
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x1f\x7f]/.test(rest)) throw new Error("net/url: invalid control character in URL");
    if (rest === "*") {
      url.path = "*";
      return url;
    }
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rest);
    if (rest.startsWith(":")) throw new Error("missing protocol scheme");
    if (m) {
      url.scheme = m[1].toLowerCase();
      rest = rest.slice(m[0].length);
    }
    if (rest.endsWith("?") && rest.indexOf("?") === rest.length - 1) {
      url.forceQuery = true;
      rest = rest.slice(0, -1);
    } else {
      const q = rest.indexOf("?");
      if (q >= 0) [rest, url.rawQuery] = [rest.slice(0, q), rest.slice(q + 1)];
    }
    if (!rest.startsWith("/")) {
      if (url.scheme !== "") {
        url.opaque = rest;
        return url;
      }
      const slash = rest.indexOf("/");
      const first = slash < 0 ? rest : rest.slice(0, slash);
      if (first.includes(":")) throw new Error("first path segment in URL cannot contain colon");
    }
    if (rest.startsWith("//") && !rest.startsWith("///")) {
      const end = rest.indexOf("/", 2);
      const authority = end < 0 ? rest.slice(2) : rest.slice(2, end);
      rest = end < 0 ? "" : rest.slice(end);
      const at = authority.lastIndexOf("@");
      if (at >= 0) url.userinfo = authority.slice(0, at);
      url.host = goUnescape(at >= 0 ? authority.slice(at + 1) : authority);
    }
    url.path = goUnescape(rest);
  } catch (e) {
    throw fail((e as Error).message);
  }
  return url;
}

/** Go's `URL.Hostname()`: the host without port or brackets. */
export function goHostname(host: string): string {
  const colon = host.lastIndexOf(":");
  let h = colon >= 0 && /^:[0-9]*$/.test(host.slice(colon)) ? host.slice(0, colon) : host;
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  return h;
}

/** Go's `URL.String()`. */
export function goUrlString(u: GoUrl): string {
  let out = u.scheme ? u.scheme + ":" : "";
  if (u.opaque) out += u.opaque;
  else {
    if (u.scheme || u.host || u.userinfo !== undefined) {
      if (u.host || u.path || u.userinfo !== undefined) out += "//";
      if (u.userinfo !== undefined) out += u.userinfo + "@";
      if (u.host) out += goEscape(u.host, "host");
    }
    const path = goEscape(u.path, "path");
    if (path && path[0] !== "/" && u.host) out += "/";
    if (out === "" && path.split("/", 1)[0].includes(":")) out += "./";
    out += path;
  }
  if (u.forceQuery || u.rawQuery) out += "?" + u.rawQuery;
  if (u.fragment) out += "#" + goEscape(u.fragment, "fragment");
  return out;
}
