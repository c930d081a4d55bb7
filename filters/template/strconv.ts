/**
 * Ports of the parts of Go's strconv the template engine prints with:
 * float formatting (`FormatFloat` with 'e', 'f', 'g'), quoting (`Quote`,
 * `QuoteRune`, `CanBackquote`) and Go literal parsing (`Unquote`,
 * `UnquoteChar`, `ParseInt`/`ParseFloat` with base prefixes and underscores).
 *
 * @module
 */

import { isPrint } from "./values.ts";

/** A decimal digit string (no trailing zeros) and the position of its decimal point. */
interface Digits {
  d: string;
  dp: number;
}

const view = new DataView(new ArrayBuffer(8));

/** The exact decimal expansion of a finite, non-negative double. */
function exactDigits(x: number): Digits {
  if (x === 0) return { d: "", dp: 0 };
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  let exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (exp === 0) exp = 1;
  else mant |= 1n << 52n;
  exp -= 1075;
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-exp)).toString();
    dp = digits.length + exp;
  }
  return trim({ d: digits, dp });
}

function trim(x: Digits): Digits {
  let end = x.d.length;
  while (end > 0 && x.d.charCodeAt(end - 1) === 48) end--;
  return end === x.d.length ? x : { d: x.d.slice(0, end), dp: end === 0 ? 0 : x.dp };
}

/** The shortest digits that read back as `x` (JS and Go agree on these). */
function shortestDigits(x: number): Digits {
  if (x === 0) return { d: "", dp: 0 };
  const s = x.toExponential();
  const e = s.indexOf("e");
  const mantissa = s.slice(0, e).replace(".", "");
  return trim({ d: mantissa, dp: Number(s.slice(e + 1)) + 1 });
}

/** Go's decimal.Round: round half to even on the exact value. */
function round(x: Digits, nd: number): Digits {
  if (nd < 0 || nd >= x.d.length) return x;
  const c = x.d.charCodeAt(nd);
  let up: boolean;
  if (c === 53 && nd + 1 === x.d.length) {
    up = nd > 0 && (x.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  } else up = c >= 53;
  if (!up) return trim({ d: x.d.slice(0, nd), dp: x.dp });
  for (let i = nd - 1; i >= 0; i--) {
    const ch = x.d.charCodeAt(i);
    if (ch < 57) return { d: x.d.slice(0, i) + String.fromCharCode(ch + 1), dp: x.dp };
  }
  return { d: "1", dp: x.dp + 1 };
}

function fmtE(neg: boolean, x: Digits, prec: number, fmt: string): string {
  let out = neg ? "-" : "";
  out += x.d.length ? x.d[0] : "0";
  if (prec > 0) {
    out += ".";
    const m = Math.min(x.d.length, prec + 1);
    let i = 1;
    if (i < m) {
      out += x.d.slice(1, m);
      i = m;
    }
    for (; i <= prec; i++) out += "0";
  }
  out += fmt;
  let exp = x.d.length === 0 ? 0 : x.dp - 1;
  out += exp < 0 ? "-" : "+";
  exp = Math.abs(exp);
  return out + (exp < 10 ? "0" + exp : String(exp));
}

function fmtF(neg: boolean, x: Digits, prec: number): string {
  let out = neg ? "-" : "";
  if (x.dp > 0) {
    const m = Math.min(x.d.length, x.dp);
    out += x.d.slice(0, m);
    for (let i = m; i < x.dp; i++) out += "0";
  } else out += "0";
  if (prec > 0) {
    out += ".";
    for (let i = 1; i <= prec; i++) {
      const j = x.dp + i - 1;
      out += j >= 0 && j < x.d.length ? x.d[j] : "0";
    }
  }
  return out;
}

/**
 * Go's `strconv.FormatFloat(x, fmt, prec, 64)` for fmt 'e', 'E', 'f', 'g',
 * 'G'; `prec` -1 means the shortest representation that reads back exactly.
 */
export function formatFloat(x: number, fmt: string, prec: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "+Inf";
  if (x === -Infinity) return "-Inf";
  const neg = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  const shortest = prec < 0;
  let digs: Digits;
  if (fmt === "F") fmt = "f";
  if (shortest) {
    digs = shortestDigits(abs);
    if (fmt === "e" || fmt === "E") prec = Math.max(digs.d.length - 1, 0);
    else if (fmt === "f") prec = Math.max(digs.d.length - digs.dp, 0);
    else prec = digs.d.length;
  } else {
    const exact = exactDigits(abs);
    if (fmt === "e" || fmt === "E") digs = round(exact, prec + 1);
    else if (fmt === "f") digs = round(exact, exact.dp + prec);
    else {
      if (prec === 0) prec = 1;
      digs = round(exact, prec);
    }
  }
  switch (fmt) {
    case "e":
    case "E":
      return fmtE(neg, digs, prec, fmt);
    case "f":
      return fmtF(neg, digs, prec);
    case "g":
    case "G": {
      let eprec = prec;
      const nd = digs.d.length;
      if (eprec > nd && nd >= digs.dp) eprec = nd;
      if (shortest) eprec = 6;
      const exp = digs.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (prec > nd) prec = nd;
        return fmtE(neg, digs, prec - 1, fmt === "g" ? "e" : "E");
      }
      if (prec > digs.dp) prec = nd;
      return fmtF(neg, digs, Math.max(prec - digs.dp, 0));
    }
  }
  return "%" + fmt;
}

const HEX = "0123456789abcdef";

function escapeRune(r: number, quote: number, asciiOnly: boolean): string {
  if (r === quote || r === 0x5c) return "\\" + String.fromCharCode(r);
  if (asciiOnly ? r < 0x80 && isPrint(r) : isPrint(r)) return String.fromCodePoint(r);
  switch (r) {
    case 0x07:
      return "\\a";
    case 0x08:
      return "\\b";
    case 0x0c:
      return "\\f";
    case 0x0a:
      return "\\n";
    case 0x0d:
      return "\\r";
    case 0x09:
      return "\\t";
    case 0x0b:
      return "\\v";
  }
  if (r < 0x20 || r === 0x7f) return "\\x" + HEX[r >> 4] + HEX[r & 15];
  if (r >= 0xd800 && r <= 0xdfff) r = 0xfffd;
  if (r < 0x10000) return "\\u" + r.toString(16).padStart(4, "0");
  return "\\U" + r.toString(16).padStart(8, "0");
}

/** Go's `strconv.Quote` (or `QuoteToASCII` when `asciiOnly`). */
export function quote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, 0x22, asciiOnly);
  return out + '"';
}

/** Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`). */
export function quoteRune(r: number, asciiOnly = false): string {
  if (r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff) || r < 0) r = 0xfffd;
  return "'" + escapeRune(r, 0x27, asciiOnly) + "'";
}

/** Go's `strconv.CanBackquote`. */
export function canBackquote(s: string): boolean {
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (r === 0xfeff || r === 0x60 || r === 0x7f) return false;
    if (r < 0x20 && r !== 0x09) return false;
    if (r >= 0xd800 && r <= 0xdfff) return false;
  }
  return true;
}

/** A syntax error from the Go literal parsers, worded like strconv's. */
export class SyntaxError extends Error {}

function hexVal(c: string): number {
  const n = parseInt(c, 16);
  return Number.isNaN(n) ? -1 : n;
}

/**
 * Go's `strconv.UnquoteChar`: decodes the first character or escape of `s`
 * inside a literal quoted with `quote`. Returns the code point, whether it
 * is a multibyte character, and the rest.
 */
export function unquoteChar(s: string, quote: string): { value: number; tail: string } {
  const c = s[0];
  if (c === undefined) throw new SyntaxError("invalid syntax");
  if (c === quote && (quote === "'" || quote === '"')) throw new SyntaxError("invalid syntax");
  if (c !== "\\") {
    const cp = s.codePointAt(0)!;
    return { value: cp, tail: s.slice(cp > 0xffff ? 2 : 1) };
  }
  if (s.length <= 1) throw new SyntaxError("invalid syntax");
  const e = s[1];
  let rest = s.slice(2);
  switch (e) {
    case "a":
      return { value: 7, tail: rest };
    case "b":
      return { value: 8, tail: rest };
    case "f":
      return { value: 12, tail: rest };
    case "n":
      return { value: 10, tail: rest };
    case "r":
      return { value: 13, tail: rest };
    case "t":
      return { value: 9, tail: rest };
    case "v":
      return { value: 11, tail: rest };
    case "x":
    case "u":
    case "U": {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      if (rest.length < n) throw new SyntaxError("invalid syntax");
      let v = 0;
      for (let i = 0; i < n; i++) {
        const x = hexVal(rest[i]);
        if (x < 0) throw new SyntaxError("invalid syntax");
        v = v * 16 + x;
      }
      rest = rest.slice(n);
      if (e !== "x" && (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))) {
        throw new SyntaxError("invalid syntax");
      }
      return { value: v, tail: rest };
    }
    case "0":
    case "1":
    case "2":
    case "3":
    case "4":
    case "5":
    case "6":
    case "7": {
      let v = Number(e);
      if (rest.length < 2) throw new SyntaxError("invalid syntax");
      for (let i = 0; i < 2; i++) {
        const x = rest.charCodeAt(i) - 48;
        if (x < 0 || x > 7) throw new SyntaxError("invalid syntax");
        v = v * 8 + x;
      }
      if (v > 255) throw new SyntaxError("invalid syntax");
      return { value: v, tail: rest.slice(2) };
    }
    case "\\":
      return { value: 0x5c, tail: rest };
    case "'":
    case '"':
      if (e !== quote) throw new SyntaxError("invalid syntax");
      return { value: e.charCodeAt(0), tail: rest };
  }
  throw new SyntaxError("invalid syntax");
}

/**
 * Go's `strconv.Unquote` for "..." and `...` literals. `\x` escapes of
 * bytes >= 0x80 become the matching code point (JS strings hold no raw bytes).
 */
export function unquote(s: string): string {
  const q = s[0];
  if (s.length < 2 || s[s.length - 1] !== q) throw new SyntaxError("invalid syntax");
  const body = s.slice(1, -1);
  if (q === "`") {
    if (body.includes("`")) throw new SyntaxError("invalid syntax");
    return body.replaceAll("\r", "");
  }
  if (q !== '"' && q !== "'") throw new SyntaxError("invalid syntax");
  if (!body.includes("\\") && !body.includes(q) && !body.includes("\n")) return body;
  let rest = body;
  let out = "";
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) {
      out += new TextDecoder().decode(new Uint8Array(bytes));
      bytes.length = 0;
    }
  };
  while (rest.length) {
    if (rest[0] === "\n") throw new SyntaxError("invalid syntax");
    const isByteEscape = rest[0] === "\\" &&
      (rest[1] === "x" || (rest[1] >= "0" && rest[1] <= "7"));
    const { value, tail } = unquoteChar(rest, q);
    rest = tail;
    if (isByteEscape && value >= 0x80) {
      bytes.push(value);
      continue;
    }
    flush();
    out += String.fromCodePoint(value);
  }
  flush();
  return out;
}

/** Whether underscores in a Go number literal are only between digits (or after a prefix). */
function underscoreOK(s: string): boolean {
  let saw = "^";
  let i = 0;
  if (s.length >= 1 && (s[0] === "-" || s[0] === "+")) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === "0" && /[bBoOxX]/.test(s[1])) {
    i = 2;
    saw = "0";
    hex = s[1] === "x" || s[1] === "X";
  }
  for (; i < s.length; i++) {
    const c = s[i];
    if ((c >= "0" && c <= "9") || (hex && /[a-fA-F]/.test(c))) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** A Go integer literal (base prefixes, leading-0 octal, underscores), unbounded. */
function parseGoInteger(s: string): bigint | undefined {
  let t = s;
  let neg = false;
  if (t[0] === "+" || t[0] === "-") {
    neg = t[0] === "-";
    t = t.slice(1);
  }
  let base = 10;
  let body = t;
  if (/^0[xX]/.test(t)) {
    base = 16;
    body = t.slice(2);
  } else if (/^0[oO]/.test(t)) {
    base = 8;
    body = t.slice(2);
  } else if (/^0[bB]/.test(t)) {
    base = 2;
    body = t.slice(2);
  } else if (t.length > 1 && t[0] === "0") {
    base = 8;
    body = t.slice(1);
  }
  if (body.includes("_")) {
    if (!underscoreOK(s)) return undefined;
    body = body.replaceAll("_", "");
  }
  if (body === "") return undefined;
  const valid = base === 16
    ? /^[0-9a-fA-F]+$/
    : base === 10
    ? /^[0-9]+$/
    : base === 8
    ? /^[0-7]+$/
    : /^[01]+$/;
  if (!valid.test(body)) return undefined;
  const prefix = base === 16 ? "0x" : base === 8 ? "0o" : base === 2 ? "0b" : "";
  const v = BigInt(prefix + body);
  return neg ? -v : v;
}

/**
 * Go's `strconv.ParseInt(s, 0, 64)`: base prefixes (0x, 0o, 0b, leading 0 =
 * octal) and underscores. Returns undefined when `s` is not such an integer
 * or is out of the int64 range.
 */
export function parseGoInt(s: string): bigint | undefined {
  const v = parseGoInteger(s);
  if (v === undefined || v > 0x7fffffffffffffffn || v < -0x8000000000000000n) return undefined;
  return v;
}

/** Go's `strconv.ParseUint(s, 0, 64)`; undefined when invalid or out of range. */
export function parseGoUint(s: string): bigint | undefined {
  if (s[0] === "-" || s[0] === "+") return undefined;
  const v = parseGoInteger(s);
  return v !== undefined && v <= 0xffffffffffffffffn ? v : undefined;
}

/**
 * Go's `strconv.ParseFloat(s, 64)` for decimal and hexadecimal literals with
 * underscores, "inf" and "nan". Returns undefined when `s` is not a float.
 */
export function parseGoFloat(s: string): number | undefined {
  const lower = s.toLowerCase();
  const sign = lower[0] === "-" ? -1 : 1;
  const unsigned = lower[0] === "-" || lower[0] === "+" ? lower.slice(1) : lower;
  if (unsigned === "inf" || unsigned === "infinity") return sign * Infinity;
  if (unsigned === "nan") return NaN;
  let t = s;
  if (t.includes("_")) {
    if (!underscoreOK(t)) return undefined;
    t = t.replaceAll("_", "");
  }
  const body = t[0] === "-" || t[0] === "+" ? t.slice(1) : t;
  const hex = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/.exec(body);
  if (hex) {
    const [, intPart, frac = "", exp] = hex;
    if (intPart === "" && frac === "") return undefined;
    let mant = 0;
    for (const c of intPart + frac) mant = mant * 16 + parseInt(c, 16);
    return sign * mant * 2 ** (Number(exp) - 4 * frac.length);
  }
  if (!/^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(body)) return undefined;
  return sign * Number(body);
}
