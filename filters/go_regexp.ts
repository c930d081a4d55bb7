/**
 * Go (RE2) regular expressions on JavaScript's RegExp.
 *
 * Configs carry Go patterns. A small tokenizer reads the Go syntax and writes
 * a JavaScript pattern that means the same thing, or throws naming the
 * construct it cannot translate exactly. The output avoids the `u` and `i`
 * flags unless a construct needs them (`\p{..}`, characters outside the BMP
 * in a class, non-ASCII letters under `(?i)`): V8's linear-time fallback
 * engine (`--enable-experimental-regexp-engine-on-excessive-backtracks`)
 * takes only patterns without them, lookarounds or modifiers.
 *
 * @module
 */

/** Go's regexp flags: `(?i)`, `(?m)`, `(?s)`, `(?U)`. */
interface GoFlags {
  readonly i: boolean;
  readonly m: boolean;
  readonly s: boolean;
  readonly U: boolean;
}

/** A translation attempt needs the `u` flag (thrown internally, then retried). */
const NEED_UNICODE = Symbol("needUnicode");
/** A translation attempt needs JavaScript's own case folding (`i` flag or modifiers). */
const NEED_JS_FOLD = Symbol("needJsFold");

type Range = [number, number];

const MAX_REPEAT = 1000;
const ASCII_WORD: readonly Range[] = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const PERL_GROUPS: Readonly<Record<string, readonly Range[]>> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: ASCII_WORD,
};
const POSIX_GROUPS: Readonly<Record<string, readonly Range[]>> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: ASCII_WORD,
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};
/** Go's Unicode general categories (`unicode.Categories`). */
const GO_CATEGORIES = new Set(
  ("C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps " +
    "S Sc Sk Sm So Z Zl Zp Zs").split(" "),
);
/** Go's `C` is Cc, Cf, Co and Cs (no unassigned code points, unlike JavaScript's `\p{C}`). */
const GO_C = "\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}";

class GoRegexpError extends SyntaxError {
  constructor(source: string, reason: string) {
    super(`Invalid regular expression: /${source}/: ${reason}`);
    this.name = "SyntaxError";
  }
}

/** Merges overlapping and adjacent ranges. */
function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = ranges.map((r): Range => [r[0], r[1]]).sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

function complementRanges(ranges: readonly Range[], max: number): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of mergeRanges(ranges)) {
    if (lo > next) out.push([next, Math.min(lo - 1, max)]);
    next = hi + 1;
  }
  if (next <= max) out.push([next, max]);
  return out;
}

function hasCase(c: number): boolean {
  const s = String.fromCodePoint(c);
  return s.toLowerCase() !== s || s.toUpperCase() !== s;
}

/**
 * Go's case folding of `ranges` when only ASCII letters, `ſ` (U+017F) and the
 * Kelvin sign (U+212A) are involved; throws NEED_JS_FOLD when a non-ASCII
 * character with case is in a range.
 */
function foldRanges(ranges: readonly Range[]): Range[] {
  const out: Range[] = [...ranges];
  const add = (c: number) => out.push([c, c]);
  for (const [lo, hi] of ranges) {
    for (let c = Math.max(lo, 0x41); c <= Math.min(hi, 0x7a); c++) {
      const lower = c | 0x20;
      if (lower < 0x61 || lower > 0x7a || (c > 0x5a && c < 0x61)) continue;
      add(lower);
      add(lower - 0x20);
      if (lower === 0x6b) add(0x212a);
      if (lower === 0x73) add(0x17f);
    }
    if (hi < 0x80) continue;
    const from = Math.max(lo, 0x80);
    if (hi - from > 0x3000) throw NEED_JS_FOLD;
    for (let c = from; c <= hi; c++) {
      if (c === 0x212a) add(0x4b), add(0x6b);
      else if (c === 0x17f) add(0x53), add(0x73);
      else if (c < 0xd800 || c > 0xdfff) {
        if (hasCase(c)) throw NEED_JS_FOLD;
      }
    }
  }
  return mergeRanges(out);
}

function hex(c: number, width: number): string {
  return c.toString(16).toUpperCase().padStart(width, "0");
}

/** One code point written for a JavaScript pattern, valid with and without `u`. */
function escapeCodePoint(c: number, unicode: boolean, inClass: boolean): string {
  if (c < 0x20 || c === 0x7f) return `\\x${hex(c, 2)}`;
  if (c < 0x7f) {
    const ch = String.fromCharCode(c);
    const special = inClass ? "\\]-^[/" : "\\^$.*+?()[]{}|/";
    // `-` outside a class and other punctuation need no escape.
    return special.includes(ch) ? `\\${ch}` : ch;
  }
  if (unicode && (c > 0xffff || (c >= 0xd800 && c <= 0xdfff))) return `\\u{${hex(c, 4)}}`;
  if (c > 0xffff) {
    const v = c - 0x10000;
    return `\\u${hex(0xd800 + (v >> 10), 4)}\\u${hex(0xdc00 + (v & 0x3ff), 4)}`;
  }
  if (c < 0xa0 || (c >= 0xd800 && c <= 0xdfff) || c === 0x2028 || c === 0x2029) {
    return `\\u${hex(c, 4)}`;
  }
  return String.fromCharCode(c);
}

/** A group being translated: what to restore when it closes. */
interface Frame {
  /** Go flags outside the group. */
  readonly outerFlags: GoFlags;
  /** JavaScript's case-insensitivity outside the group. */
  readonly outerJsI: boolean;
  /** JavaScript's case-insensitivity at the start of each alternative. */
  readonly baseJsI: boolean;
  /** Where the group starts in the output. */
  readonly start: number;
}

/** The last thing written that a repetition operator could apply to. */
interface Atom {
  readonly start: number;
  /** Written as something JavaScript cannot repeat directly (an assertion, a surrogate pair). */
  readonly wrap: boolean;
}

class GoRegexpTranslator {
  readonly #src: string;
  readonly #unicode: boolean;
  readonly #jsFold: boolean;
  #pos = 0;
  #out = "";
  #flags: GoFlags;
  /** Whether JavaScript matches case-insensitively at the current output position. */
  #jsI: boolean;
  /** Whether a `(?i:` / `(?-i:` wrapper opened for flags changed mid-group is open. */
  #wrapperOpen = false;
  #frames: Frame[] = [];
  #atom: Atom | undefined;
  /** The repetition operator just read, if the last token was one. */
  #repeated = "";
  #names = new Set<string>();
  /** The `i` flag of the whole JavaScript pattern. */
  readonly globalI: boolean;

  constructor(src: string, flags: GoFlags, unicode: boolean, jsFold: boolean) {
    this.#src = src;
    this.#unicode = unicode;
    this.#jsFold = jsFold;
    // Leading flag groups (`(?i)`) apply to the whole pattern: they become flags.
    let lead = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(src);
    while (lead && lead[2] !== "") {
      flags = this.#applyFlags(flags, lead[1], lead[2] ?? "");
      this.#pos += lead[0].length;
      lead = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(src.slice(this.#pos));
    }
    this.#flags = flags;
    this.globalI = jsFold && flags.i;
    this.#jsI = this.globalI;
  }

  #applyFlags(flags: GoFlags, on: string, off: string): GoFlags {
    const next = { ...flags };
    for (const f of on) next[f as keyof GoFlags] = true;
    for (const f of off) next[f as keyof GoFlags] = false;
    return next;
  }

  #fail(reason: string): never {
    throw new GoRegexpError(this.#src, reason);
  }

  #peek(offset = 0): number | undefined {
    return this.#src.codePointAt(this.#pos + offset);
  }

  #next(): number {
    const c = this.#src.codePointAt(this.#pos);
    if (c === undefined) this.#fail("unexpected end of pattern");
    this.#pos += c > 0xffff ? 2 : 1;
    return c;
  }

  #base(): boolean {
    return this.#frames.length ? this.#frames[this.#frames.length - 1].baseJsI : this.globalI;
  }

  #closeWrapper(): void {
    if (!this.#wrapperOpen) return;
    this.#out += ")";
    this.#wrapperOpen = false;
    this.#jsI = this.#base();
  }

  /** Makes JavaScript's case-insensitivity match Go's before an atom is written. */
  #syncCase(): void {
    if (!this.#jsFold || this.#jsI === this.#flags.i) return;
    this.#closeWrapper();
    if (this.#jsI === this.#flags.i) return;
    this.#out += this.#flags.i ? "(?i:" : "(?-i:";
    this.#wrapperOpen = true;
    this.#jsI = this.#flags.i;
  }

  /** Writes one atom (after syncing case), remembering it for a repetition. */
  #emit(text: string, wrap = false, syncCase = true): void {
    if (syncCase) this.#syncCase();
    this.#atom = { start: this.#out.length, wrap };
    this.#repeated = "";
    this.#out += text;
  }

  #emitLiteral(c: number): void {
    if (this.#flags.i && (c < 0x80 ? /[A-Za-z]/.test(String.fromCharCode(c)) : hasCase(c))) {
      if (!this.#jsFold) {
        this.#emit(this.#classText(foldRanges([[c, c]]), false));
        return;
      }
      // JavaScript folds a character outside the BMP only with `u`.
      if (c > 0xffff && !this.#unicode) throw NEED_UNICODE;
    }
    this.#emit(escapeCodePoint(c, this.#unicode, false), c > 0xffff && !this.#unicode);
  }

  #classText(ranges: readonly Range[], negated: boolean, extra = ""): string {
    let body = "";
    for (const [lo, hi] of mergeRanges(ranges)) {
      if (hi > 0xffff && !this.#unicode) throw NEED_UNICODE;
      body += escapeCodePoint(lo, this.#unicode, true);
      if (hi > lo) {
        body += (hi > lo + 1 ? "-" : "") + escapeCodePoint(hi, this.#unicode, true);
      }
    }
    return `[${negated ? "^" : ""}${body}${extra}]`;
  }

  /** The ranges of a Perl or POSIX group, folded under `(?i)` and negated if asked. */
  #group(ranges: readonly Range[], negated: boolean): Range[] {
    if (this.#flags.i) ranges = foldRanges(ranges);
    return negated ? complementRanges(ranges, this.#unicode ? 0x10ffff : 0xffff) : [...ranges];
  }

  translate(): string {
    while (this.#pos < this.#src.length) this.#step();
    if (this.#frames.length) this.#fail("Unterminated group");
    this.#closeWrapper();
    return this.#out;
  }

  #step(): void {
    const start = this.#pos;
    const c = this.#next();
    switch (c) {
      case 0x28: // (
        return this.#openGroup();
      case 0x29: // )
        return this.#closeGroup();
      case 0x7c: // |
        this.#closeWrapper();
        this.#out += "|";
        this.#atom = undefined;
        this.#repeated = "";
        return;
      case 0x2a: // *
      case 0x2b: // +
      case 0x3f: // ?
        return this.#repeat(String.fromCharCode(c), start);
      case 0x7b: { // {
        const m = /^\{(0|[1-9][0-9]*)(,(0|[1-9][0-9]*)?)?\}/.exec(this.#src.slice(start));
        if (!m) return this.#emitLiteral(c);
        this.#pos = start + m[0].length;
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === undefined ? -1 : Number(m[3]);
        if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
          this.#fail(`invalid repeat count: \`${m[0]}\``);
        }
        return this.#repeat(m[0], start);
      }
      case 0x2e: // .
        return this.#emit(this.#flags.s ? "[^]" : "[^\\n]");
      case 0x5e: // ^
        return this.#emit(this.#flags.m ? "(?<![^\\n])" : "^", true, false);
      case 0x24: // $
        return this.#emit(this.#flags.m ? "(?![^\\n])" : "$", true, false);
      case 0x5b: // [
        return this.#charClass(start);
      case 0x5c: // \
        return this.#escape(start);
      default:
        return this.#emitLiteral(c);
    }
  }

  #repeat(op: string, start: number): void {
    let greedy = true;
    if (this.#peek() === 0x3f) {
      this.#pos++;
      greedy = false;
    }
    const text = this.#src.slice(start, this.#pos);
    if (this.#repeated) {
      this.#fail(`invalid nested repetition operator: \`${this.#repeated}${text}\``);
    }
    const atom = this.#atom;
    if (!atom) this.#fail(`missing argument to repetition operator: \`${text}\``);
    if (atom.wrap) {
      this.#out = `${this.#out.slice(0, atom.start)}(?:${this.#out.slice(atom.start)})`;
    }
    this.#out += op + (greedy === this.#flags.U ? "?" : "");
    this.#repeated = text;
  }

  #openGroup(): void {
    const rest = this.#src.slice(this.#pos);
    let open = "(";
    let flags = this.#flags;
    let baseJsI = this.#jsI;
    if (rest.startsWith("?")) {
      const named = /^\?P?<([^>]*)>/.exec(rest);
      if (named && !/^\?<[=!]/.test(rest)) {
        const name = named[1];
        if (!/^[A-Za-z0-9_]+$/.test(name)) {
          this.#fail(`invalid named capture: \`(${named[0]}\``);
        }
        if (/^[0-9]/.test(name)) {
          this.#fail(`capture group name starting with a digit is not supported: \`(${named[0]}\``);
        }
        if (this.#names.has(name)) this.#fail(`duplicate capture group name: \`${name}\``);
        this.#names.add(name);
        open = `(?<${name}>`;
        this.#pos += named[0].length;
      } else {
        const m = /^\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
        if (!m || m[2] === "") {
          const shown = m ? m[0] : rest.slice(0, /^\?<?./.exec(rest)?.[0].length ?? 1);
          this.#fail(`invalid or unsupported Perl syntax: \`(${shown}\``);
        }
        this.#pos += m[0].length;
        flags = this.#applyFlags(flags, m[1], m[2] ?? "");
        if (m[3] === ")") {
          // Flags for the rest of the current group; a repetition cannot follow.
          this.#flags = flags;
          this.#atom = undefined;
          this.#repeated = "";
          return;
        }
        open = "(?:";
        if (this.#jsFold && flags.i !== this.#jsI) {
          open = flags.i ? "(?i:" : "(?-i:";
          baseJsI = flags.i;
        }
      }
    }
    this.#frames.push({
      outerFlags: this.#flags,
      outerJsI: this.#jsI,
      baseJsI,
      start: this.#out.length,
    });
    this.#out += open;
    this.#flags = flags;
    this.#jsI = baseJsI;
    this.#atom = undefined;
    this.#repeated = "";
    this.#wrapperOpen = false;
  }

  #closeGroup(): void {
    const frame = this.#frames.pop();
    if (!frame) this.#fail("unexpected ): `)`");
    this.#closeWrapper();
    this.#out += ")";
    this.#flags = frame.outerFlags;
    this.#jsI = frame.outerJsI;
    // A wrapper of the enclosing alternative is open again if its case differs from its base.
    this.#wrapperOpen = this.#jsI !== this.#base();
    this.#atom = { start: frame.start, wrap: false };
    this.#repeated = "";
  }

  /** Reads `\p{Name}`, `\pN`, `\P..`, `\p{^..}` after the backslash; returns JS text and negation. */
  #unicodeClass(start: number): { text: string; negated: boolean; goC: boolean } {
    let negated = this.#next() === 0x50; // P
    let name: string;
    if (this.#peek() === 0x7b) {
      const close = this.#src.indexOf("}", this.#pos);
      if (close < 0) this.#fail(`invalid character class range: \`${this.#src.slice(start)}\``);
      name = this.#src.slice(this.#pos + 1, close);
      this.#pos = close + 1;
      if (name.startsWith("^")) {
        negated = !negated;
        name = name.slice(1);
      }
    } else {
      name = String.fromCodePoint(this.#next());
    }
    const shown = this.#src.slice(start, this.#pos);
    if (!this.#unicode) throw NEED_UNICODE;
    if (this.#flags.i && !this.#jsFold) throw NEED_JS_FOLD;
    if (name === "C") return { text: GO_C, negated, goC: true };
    if (name === "Any" || GO_CATEGORIES.has(name)) {
      return { text: `\\p{${name}}`, negated, goC: false };
    }
    try {
      new RegExp(`\\p{Script=${name}}`, "u");
    } catch {
      this.#fail(`invalid character class range: \`${shown}\``);
    }
    return { text: `\\p{Script=${name}}`, negated, goC: false };
  }

  #escape(start: number): void {
    const c = this.#peek();
    if (c === undefined) this.#fail("trailing backslash at end of expression: ``");
    switch (String.fromCodePoint(c)) {
      case "A":
        this.#pos++;
        return this.#emit("^", true, false);
      case "z":
        this.#pos++;
        return this.#emit("$", true, false);
      case "b":
      case "B":
        this.#pos++;
        return this.#emit(`\\${String.fromCodePoint(c)}`, true, false);
      case "C":
        this.#fail("`\\C` (any byte) is not supported");
        break;
      case "Q": {
        this.#pos++;
        const end = this.#src.indexOf("\\E", this.#pos);
        const lit = this.#src.slice(this.#pos, end < 0 ? undefined : end);
        this.#pos = end < 0 ? this.#src.length : end + 2;
        for (const ch of lit) this.#emitLiteral(ch.codePointAt(0)!);
        return;
      }
      case "d":
      case "D":
      case "s":
      case "S":
      case "w":
      case "W": {
        this.#pos++;
        const lower = String.fromCodePoint(c).toLowerCase();
        const negated = lower !== String.fromCodePoint(c);
        if (lower === "d" || (lower === "w" && !this.#flags.i)) {
          return this.#emit(`\\${String.fromCodePoint(c)}`);
        }
        const ranges = PERL_GROUPS[lower];
        return this.#emit(this.#classText(this.#flags.i ? foldRanges(ranges) : ranges, negated));
      }
      case "p":
      case "P": {
        const u = this.#unicodeClass(start);
        if (u.goC) return this.#emit(`[${u.negated ? "^" : ""}${u.text}]`);
        // Negated as a class: under (?i) that is Go's "not any case of".
        return this.#emit(u.negated ? `[^${u.text}]` : u.text);
      }
      default:
        return this.#emitLiteral(this.#escapeChar(start));
    }
  }

  /** Go's `parseEscape`: the character a `\` escape (at `start`) stands for. */
  #escapeChar(start: number): number {
    this.#pos = start + 1;
    const c = this.#next();
    const bad = (): never =>
      this.#fail(`invalid escape sequence: \`${this.#src.slice(start, this.#pos)}\``);
    if (c < 0x80 && !/[0-9A-Za-z]/.test(String.fromCharCode(c))) return c;
    if (c >= 0x30 && c <= 0x37) {
      // Octal: \0, \0nn, or \nnn for n in 1-7 followed by another octal digit.
      const rest = /^[0-7]{0,2}/.exec(this.#src.slice(this.#pos))![0];
      if (c !== 0x30 && rest === "") bad();
      this.#pos += rest.length;
      return parseInt(String.fromCharCode(c) + rest, 8);
    }
    switch (String.fromCharCode(c)) {
      case "x": {
        const m = /^(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2}))/.exec(this.#src.slice(this.#pos));
        if (!m) {
          this.#pos = Math.min(this.#src.length, this.#pos + 2);
          bad();
        }
        this.#pos += m![0].length;
        const v = parseInt(m![1] ?? m![2], 16);
        if (v > 0x10ffff) bad();
        return v;
      }
      case "a":
        return 7;
      case "f":
        return 0x0c;
      case "n":
        return 0x0a;
      case "r":
        return 0x0d;
      case "t":
        return 0x09;
      case "v":
        return 0x0b;
    }
    return bad();
  }

  #charClass(start: number): void {
    let negated = false;
    if (this.#peek() === 0x5e) {
      negated = true;
      this.#pos++;
    }
    const ranges: Range[] = [];
    let extra = "";
    let negatedUnicode: { text: string; shown: string } | undefined;
    let items = 0;
    for (let first = true;; first = false) {
      const c = this.#peek();
      if (c === undefined) this.#fail(`missing closing ]: \`${this.#src.slice(start)}\``);
      if (c === 0x5d && !first) {
        this.#pos++;
        break;
      }
      items++;
      const rest = this.#src.slice(this.#pos);
      if (rest.startsWith("[:")) {
        const close = rest.indexOf(":]", 2);
        if (close >= 0) {
          const name = rest.slice(2, close);
          const group = Object.hasOwn(POSIX_GROUPS, name.replace(/^\^/, ""))
            ? POSIX_GROUPS[name.replace(/^\^/, "")]
            : undefined;
          if (!group) {
            this.#fail(`invalid character class range: \`${rest.slice(0, close + 2)}\``);
          }
          this.#pos += close + 2;
          ranges.push(...this.#group(group, name.startsWith("^")));
          continue;
        }
      }
      if (c === 0x5c) {
        const e = String.fromCodePoint(this.#peek(1) ?? 0);
        if (e === "p" || e === "P") {
          const escStart = this.#pos;
          this.#pos++;
          const u = this.#unicodeClass(escStart);
          if (!u.negated) extra += u.text;
          else if (u.goC || this.#flags.i) {
            // JavaScript (without `v`) has no set difference inside a class, and
            // under `i` it negates before folding: only a lone item translates.
            negatedUnicode = { text: u.text, shown: this.#src.slice(escStart, this.#pos) };
          } else extra += u.text.replace("\\p", "\\P");
          continue;
        }
        if ("dDsSwW".includes(e)) {
          this.#pos += 2;
          ranges.push(...this.#group(PERL_GROUPS[e.toLowerCase()], e !== e.toLowerCase()));
          continue;
        }
      }
      const lo = this.#classChar(start);
      let hi = lo;
      if (this.#peek() === 0x2d && this.#peek(1) !== undefined && this.#peek(1) !== 0x5d) {
        const rangeStart = this.#pos - (lo > 0xffff ? 2 : 1);
        this.#pos++;
        hi = this.#classChar(start);
        if (hi < lo) {
          this.#fail(
            `invalid character class range: \`${this.#src.slice(rangeStart, this.#pos)}\``,
          );
        }
      }
      ranges.push(
        ...(this.#flags.i && !this.#jsFold ? foldRanges([[lo, hi]]) : [[lo, hi] as Range]),
      );
    }
    if (negatedUnicode) {
      if (items !== 1) {
        this.#fail(
          `a negated Unicode class (\`${negatedUnicode.shown}\`) with other members in [...] is not supported`,
        );
      }
      return this.#emit(`[${negated ? "" : "^"}${negatedUnicode.text}]`);
    }
    this.#emit(this.#classText(ranges, negated, extra));
  }

  /** One character in a class: a literal or an escape. */
  #classChar(start: number): number {
    const c = this.#peek();
    if (c === undefined) this.#fail(`missing closing ]: \`${this.#src.slice(start)}\``);
    if (c !== 0x5c) return this.#next();
    return this.#escapeChar(this.#pos);
  }
}

/**
 * Translates a Go (RE2) regular expression into a JavaScript pattern and
 * flags that match the same strings, or throws a SyntaxError naming the
 * construct Go rejects or that cannot be translated exactly.
 *
 * Translated: `(?flags)` anywhere and `(?flags:...)` groups (`i`, `m`, `s`,
 * `U`), `(?P<name>...)`, `\A`, `\z`, `\Q...\E`, POSIX classes (`[[:alpha:]]`,
 * `[[:^space:]]`), `\pL`/`\p{Greek}`/`\PN`, Go's octal and `\x{...}` escapes;
 * `.`, `\s`, `^`/`$` under `(?m)` and `\w` under `(?i)` keep Go's meaning.
 * `extraFlags` may add JavaScript's `g`, `y`, `d`, `u` and Go's `i`, `m`,
 * `s`.
 */
export function translateGoRegexp(
  source: string,
  extraFlags = "",
): { source: string; flags: string } {
  const flags: GoFlags = {
    i: extraFlags.includes("i"),
    m: extraFlags.includes("m"),
    s: extraFlags.includes("s"),
    U: false,
  };
  let unicode = extraFlags.includes("u");
  let jsFold = false;
  for (;;) {
    try {
      const t = new GoRegexpTranslator(source, flags, unicode, jsFold);
      const out = t.translate();
      let js = [...extraFlags].filter((f) => "gyd".includes(f)).join("");
      if (t.globalI) js += "i";
      if (unicode) js += "u";
      return { source: out, flags: js };
    } catch (e) {
      if (e === NEED_UNICODE && !unicode) unicode = true;
      else if (e === NEED_JS_FOLD && !jsFold) jsFold = true;
      else throw e;
    }
  }
}

/**
 * Compiles a Go-style (RE2) regular expression; see {@linkcode translateGoRegexp}.
 * Throws a SyntaxError ("Invalid regular expression: /.../: reason") for a
 * pattern Go rejects or this gateway cannot translate exactly.
 */
export function compileGoRegexp(source: string, extraFlags = ""): RegExp {
  const t = translateGoRegexp(source, extraFlags);
  return new RegExp(t.source, t.flags);
}
