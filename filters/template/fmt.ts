/**
 * A port of Go's fmt printing (`Sprint`, `Sprintln`, `Sprintf`) over the
 * engine's value model (see values.ts), so templates print exactly what Go
 * prints: `map[a:1 b:[x y]]`, `<nil>`, `1e+06`, `%!d(string=hi)` and so on.
 *
 * @module
 */

import { canBackquote, formatFloat, quote, quoteRune } from "./strconv.ts";
import {
  GoFloat,
  isPrint,
  JsonNumber,
  kindOf,
  sortedKeys,
  stringer,
  typeName,
  utf8,
} from "./values.ts";

const LDIGITS = "0123456789abcdefx";
const UDIGITS = "0123456789ABCDEFX";

/** Go's fmt state: flags, width and precision of the verb being printed. */
class Flags {
  plus = false;
  minus = false;
  sharp = false;
  space = false;
  zero = false;
  plusV = false;
  sharpV = false;
  widPresent = false;
  precPresent = false;
  wid = 0;
  prec = 0;

  clear(): void {
    this.plus =
      this.minus =
      this.sharp =
      this.space =
      this.zero =
        false;
    this.plusV =
      this.sharpV =
      this.widPresent =
      this.precPresent =
        false;
    this.wid = this.prec = 0;
  }
}

function runeCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

/** One printing job, like Go's `pp`. */
class Printer {
  buf = "";
  readonly f = new Flags();
  arg: unknown = undefined;
  erroring = false;
  reordered = false;
  goodArgNum = true;

  // ---- fmt: padding and the primitive formatters ----

  writePadding(n: number): void {
    if (n <= 0) return;
    this.buf += (this.f.zero ? "0" : " ").repeat(n);
  }

  pad(s: string): void {
    const f = this.f;
    if (!f.widPresent || f.wid === 0) {
      this.buf += s;
      return;
    }
    const width = f.wid - runeCount(s);
    if (!f.minus) {
      this.writePadding(width);
      this.buf += s;
    } else {
      this.buf += s;
      this.writePadding(width);
    }
  }

  truncate(s: string): string {
    if (this.f.precPresent) {
      let n = this.f.prec;
      let i = 0;
      for (const ch of s) {
        n--;
        if (n < 0) return s.slice(0, i);
        i += ch.length;
      }
    }
    return s;
  }

  fmtS(s: string): void {
    this.pad(this.truncate(s));
  }

  fmtBoolean(v: boolean): void {
    this.pad(v ? "true" : "false");
  }

  fmtQ(s: string): void {
    s = this.truncate(s);
    if (this.f.sharp && canBackquote(s)) {
      this.pad("`" + s + "`");
      return;
    }
    this.pad(quote(s, this.f.plus));
  }

  fmtSbx(bytes: Uint8Array, digits: string): void {
    const f = this.f;
    let length = bytes.length;
    if (f.precPresent && f.prec < length) length = f.prec;
    let width = 2 * length;
    if (width > 0) {
      if (f.space) {
        if (f.sharp) width *= 2;
        width += length - 1;
      } else if (f.sharp) width += 2;
    } else {
      if (f.widPresent) this.writePadding(f.wid);
      return;
    }
    if (f.widPresent && f.wid > width && !f.minus) this.writePadding(f.wid - width);
    let out = "";
    if (f.sharp) out += "0" + digits[16];
    for (let i = 0; i < length; i++) {
      if (f.space && i > 0) {
        out += " ";
        if (f.sharp) out += "0" + digits[16];
      }
      const c = bytes[i];
      out += digits[c >> 4] + digits[c & 15];
    }
    this.buf += out;
    if (f.widPresent && f.wid > width && f.minus) this.writePadding(f.wid - width);
  }

  fmtUnicode(u: bigint): void {
    const f = this.f;
    let prec = 4;
    if (f.precPresent && f.prec > 4) prec = f.prec;
    let hex = (u < 0n ? u + (1n << 64n) : u).toString(16).toUpperCase();
    if (hex.length < prec) hex = "0".repeat(prec - hex.length) + hex;
    let s = "U+" + hex;
    if (f.sharp && u >= 0n && u <= 0x10ffffn && isPrint(Number(u))) {
      s += " '" + String.fromCodePoint(Number(u)) + "'";
    }
    const oldZero = f.zero;
    f.zero = false;
    this.pad(s);
    f.zero = oldZero;
  }

  fmtIntegerDigits(v: bigint, base: number, signed: boolean, verb: string, digits: string): void {
    const f = this.f;
    let negative = signed && v < 0n;
    let u = v;
    if (!signed && u < 0n) u += 1n << 64n;
    if (negative) u = -u;
    let prec = 0;
    if (f.precPresent) {
      prec = f.prec;
      if (prec === 0 && u === 0n) {
        const oldZero = f.zero;
        f.zero = false;
        this.writePadding(f.wid);
        f.zero = oldZero;
        return;
      }
    } else if (f.zero && f.widPresent) {
      prec = f.wid;
      if (negative || f.plus || f.space) prec--;
    }
    let s = u.toString(base);
    if (digits === UDIGITS) s = s.toUpperCase();
    if (s.length < prec) s = "0".repeat(prec - s.length) + s;
    if (f.sharp) {
      if (base === 2) s = "0b" + s;
      else if (base === 8 && s[0] !== "0") s = "0" + s;
      else if (base === 16) s = "0" + digits[16] + s;
    }
    if (verb === "O") s = "0o" + s;
    if (negative) s = "-" + s;
    else if (f.plus) s = "+" + s;
    else if (f.space) s = " " + s;
    negative = false;
    const oldZero = f.zero;
    f.zero = false;
    this.pad(s);
    f.zero = oldZero;
  }

  fmtFloatPrec(v: number, verb: string, prec: number): void {
    const f = this.f;
    if (f.precPresent) prec = f.prec;
    let num = formatFloat(v, verb, prec);
    if (num[0] === "-" || num[0] === "+") {
      // keep the sign
    } else num = "+" + num;
    if (f.space && num[0] === "+" && !f.plus) num = " " + num.slice(1);
    if (num[1] === "I" || num[1] === "N") {
      const oldZero = f.zero;
      f.zero = false;
      if (num[1] === "N" && !f.space && !f.plus) num = num.slice(1);
      this.pad(num);
      f.zero = oldZero;
      return;
    }
    if (f.sharp && verb !== "b") {
      let digits = 0;
      if (verb === "v" || verb === "g" || verb === "G" || verb === "x") {
        digits = prec;
        if (digits === -1) digits = 6;
      }
      let tail = "";
      let body = num;
      let hasDecimalPoint = false;
      let sawNonzeroDigit = false;
      for (let i = 1; i < body.length; i++) {
        const c = body[i];
        if (c === ".") hasDecimalPoint = true;
        else if (
          c === "p" || c === "P" || ((c === "e" || c === "E") && verb !== "x" && verb !== "X")
        ) {
          tail = body.slice(i);
          body = body.slice(0, i);
          break;
        } else {
          if (c !== "0") sawNonzeroDigit = true;
          if (sawNonzeroDigit) digits--;
        }
      }
      if (!hasDecimalPoint) {
        if (body.length === 2 && body[1] === "0") digits--;
        body += ".";
      }
      while (digits > 0) {
        body += "0";
        digits--;
      }
      num = body + tail;
    }
    if (f.plus || num[0] !== "+") {
      if (f.zero && f.widPresent && f.wid > num.length) {
        this.buf += num[0];
        this.writePadding(f.wid - num.length);
        this.buf += num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  // ---- pp: dispatch by verb and value ----

  badVerb(verb: string): void {
    this.erroring = true;
    this.buf += "%!" + verb + "(";
    if (this.arg !== undefined && this.arg !== null) {
      this.buf += typeName(this.arg) + "=";
      this.printArg(this.arg, "v");
    } else {
      this.buf += "<nil>";
    }
    this.buf += ")";
    this.erroring = false;
  }

  fmtBool(v: boolean, verb: string): void {
    if (verb === "t" || verb === "v") this.fmtBoolean(v);
    else this.badVerb(verb);
  }

  fmtInteger(v: number | bigint, signed: boolean, verb: string): void {
    const b = typeof v === "bigint" ? v : BigInt(v);
    switch (verb) {
      case "v":
      case "d":
        return this.fmtIntegerDigits(b, 10, signed, verb, LDIGITS);
      case "b":
        return this.fmtIntegerDigits(b, 2, signed, verb, LDIGITS);
      case "o":
      case "O":
        return this.fmtIntegerDigits(b, 8, signed, verb, LDIGITS);
      case "x":
        return this.fmtIntegerDigits(b, 16, signed, verb, LDIGITS);
      case "X":
        return this.fmtIntegerDigits(b, 16, signed, verb, UDIGITS);
      case "c": {
        const n = Number(b);
        this.pad(
          n >= 0 && n <= 0x10ffff && !(n >= 0xd800 && n <= 0xdfff)
            ? String.fromCodePoint(n)
            : "\ufffd",
        );
        return;
      }
      case "q":
        this.pad(quoteRune(Number(b), this.f.plus));
        return;
      case "U":
        return this.fmtUnicode(b);
      default:
        this.badVerb(verb);
    }
  }

  fmtFloat(v: number, verb: string): void {
    switch (verb) {
      case "v":
        return this.fmtFloatPrec(v, "g", -1);
      case "g":
      case "G":
        return this.fmtFloatPrec(v, verb, -1);
      case "f":
      case "e":
      case "E":
      case "F":
        return this.fmtFloatPrec(v, verb, 6);
      default:
        this.badVerb(verb);
    }
  }

  fmtString(v: string, verb: string): void {
    switch (verb) {
      case "v":
        if (this.f.sharpV) this.fmtQ(v);
        else this.fmtS(v);
        return;
      case "s":
        return this.fmtS(v);
      case "x":
        return this.fmtSbx(utf8(v), LDIGITS);
      case "X":
        return this.fmtSbx(utf8(v), UDIGITS);
      case "q":
        return this.fmtQ(v);
      default:
        this.badVerb(verb);
    }
  }

  fmtBytes(v: Uint8Array, verb: string): void {
    switch (verb) {
      case "v":
      case "d": {
        this.buf += "[";
        for (let i = 0; i < v.length; i++) {
          if (i > 0) this.buf += " ";
          this.fmtIntegerDigits(BigInt(v[i]), 10, false, verb, LDIGITS);
        }
        this.buf += "]";
        return;
      }
      case "s":
        return this.fmtS(new TextDecoder().decode(v));
      case "x":
        return this.fmtSbx(v, LDIGITS);
      case "X":
        return this.fmtSbx(v, UDIGITS);
      case "q":
        return this.fmtQ(new TextDecoder().decode(v));
      default:
        this.buf += "[";
        for (let i = 0; i < v.length; i++) {
          if (i > 0) this.buf += " ";
          this.fmtInteger(v[i], false, verb);
        }
        this.buf += "]";
    }
  }

  handleMethods(verb: string): boolean {
    if (this.erroring) return false;
    if (this.f.sharpV) return false;
    if (verb === "v" || verb === "s" || verb === "x" || verb === "X" || verb === "q") {
      if (this.arg instanceof Error) {
        this.fmtString(this.arg.message, verb);
        return true;
      }
      const s = stringer(this.arg);
      if (s) {
        this.fmtString(s(), verb);
        return true;
      }
    }
    return false;
  }

  printArg(arg: unknown, verb: string): void {
    this.arg = arg;
    if (arg === undefined || arg === null) {
      if (verb === "T" || verb === "v") this.pad("<nil>");
      else this.badVerb(verb);
      return;
    }
    if (verb === "T") {
      this.fmtS(typeName(arg));
      return;
    }
    if (verb === "p") {
      this.fmtPointer(arg, verb);
      return;
    }
    switch (typeof arg) {
      case "boolean":
        return this.fmtBool(arg, verb);
      case "number":
        if (Number.isInteger(arg) && Math.abs(arg) < 2 ** 63) {
          if (
            verb === "v" && !this.f.widPresent && !this.f.plus && !this.f.space &&
            Math.abs(arg) <= Number.MAX_SAFE_INTEGER
          ) {
            this.buf += String(arg === 0 ? 0 : arg);
            return;
          }
          return this.fmtInteger(arg, true, verb);
        }
        return this.fmtFloat(arg, verb);
      case "bigint":
        return this.fmtInteger(arg, true, verb);
      case "string":
        return this.fmtString(arg, verb);
    }
    if (arg instanceof GoFloat) return this.fmtFloat(arg.value, verb);
    if (arg instanceof Uint8Array) return this.fmtBytes(arg, verb);
    if (!this.handleMethods(verb)) this.printValue(arg, verb, 0);
  }

  fmtPointer(value: unknown, verb: string): void {
    const k = kindOf(value);
    if (k !== "ptr" && k !== "map" && k !== "slice" && k !== "func") {
      this.badVerb(verb);
      return;
    }
    // Go prints a memory address; there is none to show here.
    if (verb === "v" || verb === "p") this.pad("0xc000000000");
    else this.badVerb(verb);
  }

  printValue(v: unknown, verb: string, depth: number): void {
    if (depth > 0 && v !== undefined && v !== null) {
      this.arg = v;
      if (this.handleMethods(verb)) return;
    }
    this.arg = v;
    switch (kindOf(v)) {
      case "invalid":
        if (depth === 0) this.buf += "<invalid reflect.Value>";
        else if (verb === "v") this.buf += "<nil>";
        else this.badVerb(verb);
        return;
      case "nil":
        this.buf += "<nil>";
        return;
      case "bool":
        return this.fmtBool(v as boolean, verb);
      case "int":
        return this.fmtInteger(v as number, true, verb);
      case "float":
        return this.fmtFloat(v instanceof GoFloat ? v.value : (v as number), verb);
      case "string":
        this.arg = v;
        return this.fmtString(v instanceof JsonNumber ? v.text : (v as string), verb);
      case "map": {
        const m = v as Record<string, unknown>;
        this.buf += "map[";
        let first = true;
        for (const key of sortedKeys(m)) {
          if (!first) this.buf += " ";
          first = false;
          this.printValue(key, verb, depth + 1);
          this.buf += ":";
          const item = m[key];
          this.printValue(item === undefined ? null : item, verb, depth + 1);
        }
        this.buf += "]";
        return;
      }
      case "slice": {
        if (v instanceof Uint8Array) {
          if (verb === "s" || verb === "q" || verb === "x" || verb === "X") {
            return this.fmtBytes(v, verb);
          }
          this.buf += "[";
          for (let i = 0; i < v.length; i++) {
            if (i > 0) this.buf += " ";
            this.printValue(v[i], verb, depth + 1);
          }
          this.buf += "]";
          return;
        }
        const a = v as unknown[];
        this.buf += "[";
        for (let i = 0; i < a.length; i++) {
          if (i > 0) this.buf += " ";
          const item = a[i];
          this.printValue(item === undefined ? null : item, verb, depth + 1);
        }
        this.buf += "]";
        return;
      }
      case "struct":
        return this.printStruct(v as object, verb, depth);
      case "ptr":
        if (depth === 0) {
          this.buf += "&";
          return this.printStruct(v as object, verb, depth + 1);
        }
        return this.fmtPointer(v, verb);
      case "func":
        return this.fmtPointer(v, verb);
    }
  }

  /** A struct's exported fields, in declaration order, as `{a b}` or `{A:a B:b}` with %+v. */
  printStruct(v: object, verb: string, depth: number): void {
    this.buf += "{";
    let first = true;
    for (const name of structFields(v)) {
      if (!first) this.buf += " ";
      first = false;
      if (this.f.plusV || this.f.sharpV) this.buf += name + ":";
      let field: unknown;
      try {
        field = (v as Record<string, unknown>)[name];
      } catch {
        field = null;
      }
      if (typeof field === "function") continue;
      this.printValue(field === undefined ? null : field, verb, depth + 1);
    }
    this.buf += "}";
  }

  // ---- Printf ----

  argNumber(argNum: number, format: string, i: number, numArgs: number): [number, number, boolean] {
    if (format.length <= i || format[i] !== "[") return [argNum, i, false];
    this.reordered = true;
    const [index, wid, ok] = parseArgNumber(format.slice(i));
    if (ok && index >= 0 && index < numArgs) return [index, i + wid, true];
    this.goodArgNum = false;
    return [argNum, i + wid, ok];
  }

  doPrintf(format: string, a: unknown[]): void {
    const end = format.length;
    let argNum = 0;
    let afterIndex = false;
    this.reordered = false;
    const f = this.f;
    formatLoop: for (let i = 0; i < end;) {
      this.goodArgNum = true;
      const lasti = i;
      while (i < end && format[i] !== "%") i++;
      if (i > lasti) this.buf += format.slice(lasti, i);
      if (i >= end) break;
      i++;
      f.clear();
      simpleFormat: for (; i < end; i++) {
        const c = format[i];
        switch (c) {
          case "#":
            f.sharp = true;
            break;
          case "0":
            f.zero = !f.minus;
            break;
          case "+":
            f.plus = true;
            break;
          case "-":
            f.minus = true;
            f.zero = false;
            break;
          case " ":
            f.space = true;
            break;
          default:
            if (c >= "a" && c <= "z" && argNum < a.length) {
              if (c === "v") {
                f.sharpV = f.sharp;
                f.sharp = false;
                f.plusV = f.plus;
                f.plus = false;
              }
              this.printArg(a[argNum], c);
              argNum++;
              i++;
              continue formatLoop;
            }
            break simpleFormat;
        }
      }
      [argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length);
      if (i < end && format[i] === "*") {
        i++;
        [f.wid, f.widPresent, argNum] = intFromArg(a, argNum);
        if (!f.widPresent) this.buf += "%!(BADWIDTH)";
        if (f.wid < 0) {
          f.wid = -f.wid;
          f.minus = true;
          f.zero = false;
        }
        afterIndex = false;
      } else {
        [f.wid, f.widPresent, i] = parsenum(format, i, end);
        if (afterIndex && f.widPresent) this.goodArgNum = false;
      }
      if (i + 1 < end && format[i] === ".") {
        i++;
        if (afterIndex) this.goodArgNum = false;
        [argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length);
        if (i < end && format[i] === "*") {
          i++;
          [f.prec, f.precPresent, argNum] = intFromArg(a, argNum);
          if (f.prec < 0) {
            f.prec = 0;
            f.precPresent = false;
          }
          if (!f.precPresent) this.buf += "%!(BADPREC)";
          afterIndex = false;
        } else {
          [f.prec, f.precPresent, i] = parsenum(format, i, end);
          if (!f.precPresent) {
            f.prec = 0;
            f.precPresent = true;
          }
        }
      }
      if (!afterIndex) [argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length);
      if (i >= end) {
        this.buf += "%!(NOVERB)";
        break;
      }
      const cp = format.codePointAt(i)!;
      const verb = String.fromCodePoint(cp);
      i += verb.length;
      if (verb === "%") this.buf += "%";
      else if (!this.goodArgNum) this.buf += "%!" + verb + "(BADINDEX)";
      else if (argNum >= a.length) this.buf += "%!" + verb + "(MISSING)";
      else {
        if (verb === "v") {
          f.sharpV = f.sharp;
          f.sharp = false;
          f.plusV = f.plus;
          f.plus = false;
        }
        this.printArg(a[argNum], verb);
        argNum++;
      }
    }
    if (!this.reordered && argNum < a.length) {
      f.clear();
      this.buf += "%!(EXTRA ";
      for (let i = argNum; i < a.length; i++) {
        if (i > argNum) this.buf += ", ";
        const arg = a[i];
        if (arg === undefined || arg === null) this.buf += "<nil>";
        else {
          this.buf += typeName(arg) + "=";
          this.printArg(arg, "v");
        }
      }
      this.buf += ")";
    }
  }
}

function tooLarge(x: number): boolean {
  return x > 1e6 || x < -1e6;
}

function parsenum(s: string, start: number, end: number): [number, boolean, number] {
  if (start >= end) return [0, false, end];
  let num = 0;
  let isnum = false;
  let i = start;
  for (; i < end && s[i] >= "0" && s[i] <= "9"; i++) {
    if (tooLarge(num)) return [0, false, end];
    num = num * 10 + (s.charCodeAt(i) - 48);
    isnum = true;
  }
  return [num, isnum, i];
}

function parseArgNumber(format: string): [number, number, boolean] {
  if (format.length < 3) return [0, 1, false];
  for (let i = 1; i < format.length; i++) {
    if (format[i] === "]") {
      const [width, ok, newi] = parsenum(format, 1, i);
      if (!ok || newi !== i) return [0, i + 1, false];
      return [width - 1, i + 1, true];
    }
  }
  return [0, 1, false];
}

function intFromArg(a: unknown[], argNum: number): [number, boolean, number] {
  let num = 0;
  let isInt = false;
  let newArgNum = argNum;
  if (argNum < a.length) {
    const v = a[argNum];
    if (typeof v === "number" && Number.isInteger(v)) {
      num = v;
      isInt = true;
    }
    newArgNum = argNum + 1;
    if (tooLarge(num)) {
      num = 0;
      isInt = false;
    }
  }
  return [num, isInt, newArgNum];
}

/** The exported (capitalized, non-method) fields of a struct-like object. */
export function structFields(v: object): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  let o: object | null = v;
  while (o && o !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (seen.has(name) || !/^\p{Lu}/u.test(name)) continue;
      seen.add(name);
      const d = Object.getOwnPropertyDescriptor(o, name)!;
      if (typeof d.value === "function") continue;
      names.push(name);
    }
    o = Object.getPrototypeOf(o);
  }
  return names;
}

/** Go's `fmt.Sprint`: spaces between operands when neither is a string. */
export function sprint(args: readonly unknown[]): string {
  const p = new Printer();
  let prevString = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const isString = typeof arg === "string" || arg instanceof JsonNumber;
    if (i > 0 && !isString && !prevString) p.buf += " ";
    p.printArg(arg, "v");
    prevString = isString;
  }
  return p.buf;
}

/** Go's `fmt.Sprintln`: operands separated by spaces, newline at the end. */
export function sprintln(args: readonly unknown[]): string {
  const p = new Printer();
  for (let i = 0; i < args.length; i++) {
    if (i > 0) p.buf += " ";
    p.printArg(args[i], "v");
  }
  return p.buf + "\n";
}

/** Go's `fmt.Sprintf`. */
export function sprintf(format: string, args: readonly unknown[]): string {
  const p = new Printer();
  p.doPrintf(format, args as unknown[]);
  return p.buf;
}

/** Go's `fmt.Sprint(v)` of one value, with a fast path for the common scalars. */
export function formatValue(v: unknown): string {
  switch (typeof v) {
    case "string":
      return v;
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) {
        return String(v === 0 ? 0 : v);
      }
  }
  return sprint([v]);
}

/** Go's `fmt.Sprint` of a struct value (not a pointer): `{a b}`, as actions print dereferenced pointers. */
export function sprintStruct(v: object): string {
  const p = new Printer();
  p.printStruct(v, "v", 0);
  return p.buf;
}
