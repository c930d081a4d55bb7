/**
 * The template lexer, a port of Go's text/template/parse/lex.go. It turns
 * template source into items on demand; positions are string offsets.
 *
 * @module
 */

import { sprintf } from "./fmt.ts";

/** Lexical item types, in Go's order (keywords last). */
export const enum ItemType {
  Error,
  Bool,
  Char,
  CharConstant,
  Comment,
  Complex,
  Assign,
  Declare,
  EOF,
  Field,
  Identifier,
  LeftDelim,
  LeftParen,
  Number,
  Pipe,
  RawString,
  RightDelim,
  RightParen,
  Space,
  String,
  Text,
  Variable,
  Keyword,
  Block,
  Break,
  Continue,
  Dot,
  Define,
  Else,
  End,
  If,
  Nil,
  Range,
  Template,
  With,
}

/** One token: its type, start offset, text and line. */
export interface Item {
  readonly typ: ItemType;
  readonly pos: number;
  readonly val: string;
  readonly line: number;
}

const KEYWORDS = new Map<string, ItemType>([
  [".", ItemType.Dot],
  ["block", ItemType.Block],
  ["break", ItemType.Break],
  ["continue", ItemType.Continue],
  ["define", ItemType.Define],
  ["else", ItemType.Else],
  ["end", ItemType.End],
  ["if", ItemType.If],
  ["range", ItemType.Range],
  ["nil", ItemType.Nil],
  ["template", ItemType.Template],
  ["with", ItemType.With],
]);

/** Go's `item.String()`, used in parse error messages. */
export function itemString(i: Item): string {
  if (i.typ === ItemType.EOF) return "EOF";
  if (i.typ === ItemType.Error) return i.val;
  if (i.typ > ItemType.Keyword) return `<${i.val}>`;
  if ([...i.val].length > 10) return sprintf("%.10q...", [i.val]);
  return sprintf("%q", [i.val]);
}

const EOF = -1;
const LETTER_OR_DIGIT = /[\p{L}\p{Nd}]/u;

function isSpace(r: number): boolean {
  return r === 0x20 || r === 0x09 || r === 0x0d || r === 0x0a;
}

function isAlphaNumeric(r: number): boolean {
  if (r === 0x5f) return true;
  if (r < 0x80) {
    return (r >= 0x30 && r <= 0x39) || (r >= 0x41 && r <= 0x5a) || (r >= 0x61 && r <= 0x7a);
  }
  return r !== EOF && LETTER_OR_DIGIT.test(String.fromCodePoint(r));
}

function hasLeftTrimMarker(s: string, at: number): boolean {
  return s.length >= at + 2 && s[at] === "-" && isSpace(s.charCodeAt(at + 1));
}

function hasRightTrimMarker(s: string, at: number): boolean {
  return s.length >= at + 2 && isSpace(s.charCodeAt(at)) && s[at + 1] === "-";
}

/** Go's `%#U`: "U+0023 '#'". */
function runeName(r: number): string {
  return sprintf("%#U", [r]);
}

type StateFn = ((l: Lexer) => StateFn) | null;

/** Scans a template into items; `nextItem` yields them one at a time. */
export class Lexer {
  readonly #input: string;
  readonly #leftDelim: string;
  readonly #rightDelim: string;
  readonly #breakOK: boolean;
  readonly #continueOK: boolean;
  #pos = 0;
  #start = 0;
  #atEOF = false;
  #parenDepth = 0;
  #state: StateFn = lexText;
  #queue: Item[] = [];
  #lineCountedTo = 0;
  #lineAtCounted = 1;

  constructor(
    input: string,
    leftDelim: string,
    rightDelim: string,
    breakOK = true,
    continueOK = true,
  ) {
    this.#input = input;
    this.#leftDelim = leftDelim || "{{";
    this.#rightDelim = rightDelim || "}}";
    this.#breakOK = breakOK;
    this.#continueOK = continueOK;
  }

  /** The next item; after EOF or an error, an EOF-typed error item forever. */
  nextItem(): Item {
    while (this.#queue.length === 0) {
      if (!this.#state) {
        return { typ: ItemType.Error, pos: this.#pos, val: "", line: this.lineAt(this.#pos) };
      }
      this.#state = this.#state(this);
    }
    return this.#queue.shift()!;
  }

  /** The 1-based line of a position (positions are asked for in increasing order). */
  lineAt(pos: number): number {
    if (pos < this.#lineCountedTo) {
      this.#lineCountedTo = 0;
      this.#lineAtCounted = 1;
    }
    const s = this.#input;
    let line = this.#lineAtCounted;
    for (let i = this.#lineCountedTo; i < pos; i++) if (s.charCodeAt(i) === 10) line++;
    this.#lineCountedTo = pos;
    this.#lineAtCounted = line;
    return line;
  }

  // ---- scanning primitives ----

  next(): number {
    if (this.#pos >= this.#input.length) {
      this.#atEOF = true;
      return EOF;
    }
    const r = this.#input.codePointAt(this.#pos)!;
    this.#pos += r > 0xffff ? 2 : 1;
    return r;
  }

  peek(): number {
    const r = this.next();
    this.backup();
    return r;
  }

  backup(): void {
    if (!this.#atEOF && this.#pos > 0) {
      const c = this.#input.charCodeAt(this.#pos - 1);
      this.#pos -= c >= 0xdc00 && c <= 0xdfff && this.#pos > 1 ? 2 : 1;
    }
  }

  emit(typ: ItemType): void {
    this.#queue.push({
      typ,
      pos: this.#start,
      val: this.#input.slice(this.#start, this.#pos),
      line: this.lineAt(this.#start),
    });
    this.#start = this.#pos;
  }

  ignore(): void {
    this.#start = this.#pos;
  }

  accept(valid: string): boolean {
    const r = this.next();
    if (r !== EOF && valid.includes(String.fromCodePoint(r))) return true;
    this.backup();
    return false;
  }

  acceptRun(valid: string): void {
    for (;;) {
      const r = this.next();
      if (r === EOF || !valid.includes(String.fromCodePoint(r))) break;
    }
    this.backup();
  }

  errorf(format: string, ...args: unknown[]): StateFn {
    this.#queue.push({
      typ: ItemType.Error,
      pos: this.#start,
      val: sprintf(format, args),
      line: this.lineAt(this.#start),
    });
    return null;
  }

  atRightDelim(): [boolean, boolean] {
    const s = this.#input;
    const rd = this.#rightDelim;
    if (hasRightTrimMarker(s, this.#pos) && s.startsWith(rd, this.#pos + 2)) return [true, true];
    if (s.startsWith(rd, this.#pos)) return [true, false];
    return [false, false];
  }

  atTerminator(): boolean {
    const r = this.peek();
    if (isSpace(r)) return true;
    switch (r) {
      case EOF:
      case 0x2e: // .
      case 0x2c: // ,
      case 0x7c: // |
      case 0x3a: // :
      case 0x29: // )
      case 0x28: // (
        return true;
    }
    return this.#input.startsWith(this.#rightDelim, this.#pos);
  }

  scanNumber(): boolean {
    this.accept("+-");
    let digits = "0123456789_";
    if (this.accept("0")) {
      if (this.accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (this.accept("oO")) digits = "01234567_";
      else if (this.accept("bB")) digits = "01_";
    }
    this.acceptRun(digits);
    if (this.accept(".")) this.acceptRun(digits);
    if (digits.length === 11 && this.accept("eE")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    if (digits.length === 23 && this.accept("pP")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    this.accept("i");
    if (isAlphaNumeric(this.peek())) {
      this.next();
      return false;
    }
    return true;
  }

  // ---- state functions, as in Go ----

  lexText(): StateFn {
    const s = this.#input;
    const x = s.indexOf(this.#leftDelim, this.#pos);
    if (x >= 0) {
      const ldn = this.#leftDelim.length;
      this.#pos = x;
      let trimLength = 0;
      if (hasLeftTrimMarker(s, this.#pos + ldn)) {
        const text = s.slice(this.#start, this.#pos);
        trimLength = text.length - text.replace(/[ \t\r\n]+$/, "").length;
      }
      this.#pos -= trimLength;
      if (this.#pos > this.#start) this.emit(ItemType.Text);
      this.#pos += trimLength;
      this.ignore();
      return lexLeftDelim;
    }
    this.#pos = s.length;
    if (this.#pos > this.#start) this.emit(ItemType.Text);
    this.emit(ItemType.EOF);
    return null;
  }

  lexLeftDelim(): StateFn {
    this.#pos += this.#leftDelim.length;
    const trimSpace = hasLeftTrimMarker(this.#input, this.#pos);
    const afterMarker = trimSpace ? 2 : 0;
    if (this.#input.startsWith("/*", this.#pos + afterMarker)) {
      this.#pos += afterMarker;
      this.ignore();
      return lexComment;
    }
    this.emit(ItemType.LeftDelim);
    this.#pos += afterMarker;
    this.ignore();
    this.#parenDepth = 0;
    return lexInsideAction;
  }

  lexComment(): StateFn {
    this.#pos += 2;
    const i = this.#input.indexOf("*/", this.#pos);
    if (i < 0) return this.errorf("unclosed comment");
    this.#pos = i + 2;
    const [delim, trimSpace] = this.atRightDelim();
    if (!delim) return this.errorf("comment ends before closing delimiter");
    if (trimSpace) this.#pos += 2;
    this.#pos += this.#rightDelim.length;
    if (trimSpace) this.#pos += leadingSpace(this.#input, this.#pos);
    this.ignore();
    return lexText;
  }

  lexRightDelim(): StateFn {
    const trimSpace = hasRightTrimMarker(this.#input, this.#pos);
    if (trimSpace) {
      this.#pos += 2;
      this.ignore();
    }
    this.#pos += this.#rightDelim.length;
    this.emit(ItemType.RightDelim);
    if (trimSpace) {
      this.#pos += leadingSpace(this.#input, this.#pos);
      this.ignore();
    }
    return lexText;
  }

  lexInsideAction(): StateFn {
    const [delim] = this.atRightDelim();
    if (delim) {
      if (this.#parenDepth === 0) return lexRightDelim;
      return this.errorf("unclosed left paren");
    }
    const r = this.next();
    if (r === EOF) return this.errorf("unclosed action");
    if (isSpace(r)) {
      this.backup();
      return lexSpace;
    }
    switch (r) {
      case 0x3d: // =
        this.emit(ItemType.Assign);
        return lexInsideAction;
      case 0x3a: // :
        if (this.next() !== 0x3d) return this.errorf("expected :=");
        this.emit(ItemType.Declare);
        return lexInsideAction;
      case 0x7c: // |
        this.emit(ItemType.Pipe);
        return lexInsideAction;
      case 0x22: // "
        return lexQuote;
      case 0x60: // `
        return lexRawQuote;
      case 0x24: // $
        return lexVariable;
      case 0x27: // '
        return lexChar;
      case 0x2e: // .
        if (this.#pos < this.#input.length) {
          const c = this.#input.charCodeAt(this.#pos);
          if (c < 0x30 || c > 0x39) return lexField;
        }
        this.backup();
        return lexNumber;
      case 0x28: // (
        this.emit(ItemType.LeftParen);
        this.#parenDepth++;
        return lexInsideAction;
      case 0x29: // )
        this.emit(ItemType.RightParen);
        this.#parenDepth--;
        if (this.#parenDepth < 0) return this.errorf("unexpected right paren %#U", r);
        return lexInsideAction;
    }
    if (r === 0x2b || r === 0x2d || (r >= 0x30 && r <= 0x39)) {
      this.backup();
      return lexNumber;
    }
    if (isAlphaNumeric(r)) {
      this.backup();
      return lexIdentifier;
    }
    if (r < 0x80 && r >= 0x20 && r < 0x7f) {
      this.emit(ItemType.Char);
      return lexInsideAction;
    }
    return this.errorf("unrecognized character in action: %s", runeName(r));
  }

  lexSpace(): StateFn {
    let numSpaces = 0;
    for (;;) {
      const r = this.peek();
      if (!isSpace(r)) break;
      this.next();
      numSpaces++;
    }
    if (
      hasRightTrimMarker(this.#input, this.#pos - 1) &&
      this.#input.startsWith(this.#rightDelim, this.#pos + 1)
    ) {
      this.backup();
      if (numSpaces === 1) return lexRightDelim;
    }
    this.emit(ItemType.Space);
    return lexInsideAction;
  }

  lexIdentifier(): StateFn {
    for (;;) {
      const r = this.next();
      if (isAlphaNumeric(r)) continue;
      this.backup();
      const word = this.#input.slice(this.#start, this.#pos);
      if (!this.atTerminator()) return this.errorf("bad character %s", runeName(r));
      const kw = KEYWORDS.get(word);
      if (kw !== undefined && kw > ItemType.Keyword) {
        if (
          (kw === ItemType.Break && !this.#breakOK) ||
          (kw === ItemType.Continue && !this.#continueOK)
        ) {
          this.emit(ItemType.Identifier);
        } else this.emit(kw);
      } else if (word[0] === ".") this.emit(ItemType.Field);
      else if (word === "true" || word === "false") this.emit(ItemType.Bool);
      else this.emit(ItemType.Identifier);
      return lexInsideAction;
    }
  }

  lexFieldOrVariable(typ: ItemType): StateFn {
    if (this.atTerminator()) {
      this.emit(typ === ItemType.Variable ? ItemType.Variable : ItemType.Dot);
      return lexInsideAction;
    }
    let r: number;
    for (;;) {
      r = this.next();
      if (!isAlphaNumeric(r)) {
        this.backup();
        break;
      }
    }
    if (!this.atTerminator()) return this.errorf("bad character %s", runeName(r));
    this.emit(typ);
    return lexInsideAction;
  }

  lexVariable(): StateFn {
    if (this.atTerminator()) {
      this.emit(ItemType.Variable);
      return lexInsideAction;
    }
    return this.lexFieldOrVariable(ItemType.Variable);
  }

  lexQuoted(quote: number, typ: ItemType, message: string): StateFn {
    for (;;) {
      let r = this.next();
      if (r === 0x5c) {
        r = this.next();
        if (r !== EOF && r !== 0x0a) continue;
        return this.errorf(message);
      }
      if (r === EOF || r === 0x0a) return this.errorf(message);
      if (r === quote) break;
    }
    this.emit(typ);
    return lexInsideAction;
  }

  lexRawQuote(): StateFn {
    for (;;) {
      const r = this.next();
      if (r === EOF) return this.errorf("unterminated raw quoted string");
      if (r === 0x60) break;
    }
    this.emit(ItemType.RawString);
    return lexInsideAction;
  }

  lexNumber(): StateFn {
    if (!this.scanNumber()) {
      return this.errorf("bad number syntax: %q", this.#input.slice(this.#start, this.#pos));
    }
    const sign = this.peek();
    if (sign === 0x2b || sign === 0x2d) {
      if (!this.scanNumber() || this.#input[this.#pos - 1] !== "i") {
        return this.errorf("bad number syntax: %q", this.#input.slice(this.#start, this.#pos));
      }
      this.emit(ItemType.Complex);
    } else this.emit(ItemType.Number);
    return lexInsideAction;
  }
}

function leadingSpace(s: string, at: number): number {
  let i = at;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i - at;
}

function lexText(l: Lexer): StateFn {
  return l.lexText();
}
function lexLeftDelim(l: Lexer): StateFn {
  return l.lexLeftDelim();
}
function lexComment(l: Lexer): StateFn {
  return l.lexComment();
}
function lexRightDelim(l: Lexer): StateFn {
  return l.lexRightDelim();
}
function lexInsideAction(l: Lexer): StateFn {
  return l.lexInsideAction();
}
function lexSpace(l: Lexer): StateFn {
  return l.lexSpace();
}
function lexIdentifier(l: Lexer): StateFn {
  return l.lexIdentifier();
}
function lexField(l: Lexer): StateFn {
  return l.lexFieldOrVariable(ItemType.Field);
}
function lexVariable(l: Lexer): StateFn {
  return l.lexVariable();
}
function lexQuote(l: Lexer): StateFn {
  return l.lexQuoted(0x22, ItemType.String, "unterminated quoted string");
}
function lexChar(l: Lexer): StateFn {
  return l.lexQuoted(0x27, ItemType.CharConstant, "unterminated character constant");
}
function lexRawQuote(l: Lexer): StateFn {
  return l.lexRawQuote();
}
function lexNumber(l: Lexer): StateFn {
  return l.lexNumber();
}
