/**
 * Go regexp behaviour on top of JavaScript RegExp: FindAll's handling of
 * empty matches, ReplaceAll with `$name`/`${name}` expansion, Split and
 * QuoteMeta. Patterns are translated with the gateway's Go-regexp helper.
 *
 * @module
 */

import { compileGoRegexp } from "../go_regexp.ts";

const cache = new Map<string, RegExp>();

/** Compiles a Go regular expression (cached); throws like Go's MustCompile. */
export function goRegexp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    try {
      re = compileGoRegexp(pattern, "gu");
    } catch {
      try {
        re = compileGoRegexp(pattern, "g");
      } catch (e) {
        throw new Error(`regexp: Compile(${JSON.stringify(pattern)}): ${(e as Error).message}`);
      }
    }
    if (cache.size > 256) cache.clear();
    cache.set(pattern, re);
  }
  re.lastIndex = 0;
  return re;
}

function execAt(re: RegExp, s: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(s);
}

function runeWidth(s: string, i: number): number {
  if (i >= s.length) return 1;
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
}

/** Go's FindAllStringIndex-style iteration: at most `n` matches (n < 0: all). */
export function findAll(re: RegExp, s: string, n: number): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  if (n < 0) n = s.length + 1;
  let prevMatchEnd = -1;
  for (let pos = 0; out.length < n && pos <= s.length;) {
    const m = execAt(re, s, pos);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    let accept = true;
    if (end === pos) {
      if (start === prevMatchEnd) accept = false;
      pos += runeWidth(s, pos);
    } else pos = end;
    prevMatchEnd = end;
    if (accept) out.push(m);
  }
  return out;
}

/** Go's `Regexp.Expand` of a `$1` / `${name}` template for one match. */
export function expand(template: string, m: RegExpExecArray): string {
  let out = "";
  let rest = template;
  for (;;) {
    const i = rest.indexOf("$");
    if (i < 0) break;
    out += rest.slice(0, i);
    rest = rest.slice(i + 1);
    if (rest[0] === "$") {
      out += "$";
      rest = rest.slice(1);
      continue;
    }
    let name: string;
    if (rest[0] === "{") {
      const close = rest.indexOf("}");
      const inner = close < 0 ? "" : rest.slice(1, close);
      if (close < 0 || !/^[\p{L}\p{Nd}_]+$/u.test(inner)) {
        out += "$";
        continue;
      }
      name = inner;
      rest = rest.slice(close + 1);
    } else {
      const word = /^[\p{L}\p{Nd}_]+/u.exec(rest);
      if (!word) {
        out += "$";
        continue;
      }
      name = word[0];
      rest = rest.slice(name.length);
    }
    if (/^[0-9]+$/.test(name)) {
      const n = Number(name);
      if (n < m.length) out += m[n] ?? "";
    } else out += m.groups?.[name] ?? "";
  }
  return out + rest;
}

/** Go's `ReplaceAllString` (expand) or `ReplaceAllLiteralString`. */
export function replaceAll(re: RegExp, src: string, repl: string, literal: boolean): string {
  let out = "";
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    const m = execAt(re, src, searchPos);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += src.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += literal ? repl : expand(repl, m);
    lastMatchEnd = end;
    const width = runeWidth(src, searchPos);
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + src.slice(lastMatchEnd);
}

/** Go's `Regexp.Split`. */
export function split(re: RegExp, source: string, s: string, n: number): string[] {
  if (n === 0) return [];
  if (source.length > 0 && s.length === 0) return [""];
  const matches = findAll(re, s, n);
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of matches) {
    if (n > 0 && out.length === n - 1) break;
    end = m.index;
    if (m.index + m[0].length !== 0) out.push(s.slice(beg, end));
    beg = m.index + m[0].length;
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}

/** Go's `regexp.QuoteMeta`. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}
