/**
 * Go's `regexp.ReplaceAllString` in JavaScript: Go's replacement syntax
 * (`$1`, `${1}`, `$name`, `${name}`, `$$`) and Go's rule that an empty match
 * right after a previous match is not replaced.
 *
 * The syntax differs from JavaScript's `String.prototype.replace`: a name is
 * the longest run of letters, digits and `_`, so `$1x` means the group named
 * "1x" (usually absent, so it expands to "") and `${1}x` is group 1 then "x".
 * Unknown groups and unmatched groups expand to "", and a `$` that starts no
 * valid reference stays a literal `$`.
 *
 * @module
 */

import { compileGoRegexp } from "./go_regexp.ts";

/** One piece of a parsed template: literal text, a group number or a group name. */
type TemplatePart = string | number | { readonly name: string };

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/** Reads the reference after a `$` at `at`: its name and the index just past it. */
function readReference(template: string, at: number): [string, number] | undefined {
  let i = at;
  const brace = template[i] === "{";
  if (brace) i++;
  const start = i;
  for (const ch of template.slice(i)) {
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === start) return undefined;
  const name = template.slice(start, i);
  if (brace) {
    if (template[i] !== "}") return undefined;
    i++;
  }
  return [name, i];
}

/** A group number as Go reads one: digits only, no leading zero, below 1e8. */
function groupNumber(name: string): number {
  if (!/^\d+$/.test(name) || (name.length > 1 && name[0] === "0") || name.length > 8) return -1;
  return Number(name);
}

/** Parses a Go replacement template into literal text and group references. */
export function parseGoTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = "";
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf("$", i);
    if (dollar < 0) {
      literal += template.slice(i);
      break;
    }
    literal += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === "$") {
      literal += "$";
      i++;
      continue;
    }
    const ref = readReference(template, i);
    if (!ref) {
      literal += "$"; // malformed: Go keeps the `$` as text
      continue;
    }
    if (literal) parts.push(literal);
    literal = "";
    const [name, next] = ref;
    const num = groupNumber(name);
    parts.push(num >= 0 ? num : { name });
    i = next;
  }
  if (literal) parts.push(literal);
  return parts;
}

/** A Go regular expression with a Go replacement template, compiled once. */
export class GoRegexpReplacer {
  readonly #re: RegExp;
  readonly #parts: readonly TemplatePart[];
  readonly #literal: string | undefined;

  /**
   * Compiles `pattern` (Go syntax, see `compileGoRegexp`) and parses
   * `template`; `spellLiteral`, when given, rewrites the template's literal
   * text once here (a path's escapes, say), leaving its references alone.
   */
  constructor(pattern: string, template: string, spellLiteral?: (text: string) => string) {
    this.#re = compileGoRegexp(pattern, "g");
    const parts = parseGoTemplate(template);
    this.#parts = spellLiteral === undefined
      ? parts
      : parts.map((part) => typeof part === "string" ? spellLiteral(part) : part);
    const only = this.#parts.length === 1 ? this.#parts[0] : undefined;
    this.#literal = this.#parts.length === 0 ? "" : typeof only === "string" ? only : undefined;
  }

  #expand(match: RegExpExecArray): string {
    if (this.#literal !== undefined) return this.#literal;
    let out = "";
    for (const part of this.#parts) {
      if (typeof part === "string") out += part;
      else if (typeof part === "number") out += match[part] ?? "";
      else out += match.groups?.[part.name] ?? "";
    }
    return out;
  }

  /** Replaces every match in `src`, as Go's `ReplaceAllString`. */
  replaceAll(src: string): string {
    const re = this.#re;
    let out = "";
    let lastMatchEnd = 0;
    let searchPos = 0;
    while (searchPos <= src.length) {
      re.lastIndex = searchPos;
      const m = re.exec(src);
      if (!m) break;
      const start = m.index;
      const end = start + m[0].length;
      out += src.slice(lastMatchEnd, start);
      // Go skips an empty match that abuts the previous match, so patterns
      // that match both empty and non-empty text are not replaced twice.
      if (end > lastMatchEnd || start === 0) out += this.#expand(m);
      lastMatchEnd = end;
      const code = src.charCodeAt(searchPos);
      const width = code >= 0xd800 && code <= 0xdbff && searchPos + 1 < src.length ? 2 : 1;
      searchPos = Math.max(searchPos + width, end);
    }
    return out + src.slice(lastMatchEnd);
  }
}
