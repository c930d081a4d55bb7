/**
 * The Go value model the template engine works on.
 *
 * JavaScript values stand for Go values: plain objects are
 * `map[string]interface {}`, arrays are `[]interface {}`, integral numbers are
 * `int`, other numbers `float64`, `null` is a nil interface and `undefined` is
 * Go's "invalid" value (a missing map key). A few wrapper classes carry Go
 * types JavaScript has no spelling for: {@linkcode GoFloat} (an integral
 * float64, which prints `1e+06` where an int prints `1000000`),
 * {@linkcode JsonNumber} (encoding/json's exact number text) and
 * {@linkcode GoTime}. Class instances are pointers to structs: their
 * capitalized properties (getters included) are fields and their function
 * properties are methods.
 *
 * @module
 */

/** A float64 whose value is integral; other floats are plain JS numbers. */
export class GoFloat {
  /** The value. */
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

/** Returns `x` as a Go float64: boxed when it would otherwise read as an int. */
export function float64(x: number): number | GoFloat {
  return Number.isInteger(x) && Math.abs(x) < 2 ** 63 ? new GoFloat(x) : x;
}

/** encoding/json's `json.Number`: a JSON number's exact text, of kind string. */
export class JsonNumber {
  /** The number as written in the JSON document. */
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  /** Go's `Number.String()`. */
  String(): string {
    return this.text;
  }
}

/** Go type facts attached to a JS object or array (see {@linkcode withGoType}). */
export interface GoType {
  /** The Go type name, e.g. "http.Header". */
  readonly name: string;
  /** The element zero value `index` returns for a missing map key. */
  readonly zero?: () => unknown;
  /** A nil slice or map: prints like an empty one, encodes to JSON as null. */
  readonly isNil?: boolean;
  /** Methods callable from templates, e.g. http.Header's `Get`. */
  readonly methods?: Readonly<Record<string, (this: unknown, ...args: unknown[]) => unknown>>;
}

const GO_TYPE = Symbol.for("easegress.goType");

/** Attaches Go type facts to an object (a typed map or slice); returns it. */
export function withGoType<T extends object>(value: T, type: GoType): T {
  Object.defineProperty(value, GO_TYPE, { value: type, enumerable: false, configurable: true });
  return value;
}

/** A nil slice of the named Go type, e.g. `[]string(nil)`. */
export function nilSlice(name: string): unknown[] {
  return withGoType([], { name, isNil: true });
}

/** The Go type facts of an object, if it has any (own or inherited). */
export function goTypeOf(value: object): GoType | undefined {
  return (value as Record<symbol, GoType | undefined>)[GO_TYPE];
}

/** Go's reflect kinds, as far as this engine distinguishes them. */
export type Kind =
  | "invalid"
  | "nil"
  | "bool"
  | "int"
  | "float"
  | "string"
  | "slice"
  | "map"
  | "struct"
  | "ptr"
  | "func";

/** Whether a value is a plain object, i.e. a Go map. */
export function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The Go kind of a value. */
export function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case "undefined":
      return "invalid";
    case "boolean":
      return "bool";
    case "number":
      return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? "int" : "float";
    case "bigint":
      return "int";
    case "string":
      return "string";
    case "function":
      return "func";
    case "object":
      if (v === null) return "nil";
      if (v instanceof GoFloat) return "float";
      if (v instanceof JsonNumber) return "string";
      if (Array.isArray(v) || v instanceof Uint8Array) return "slice";
      if (v instanceof GoTime) return "struct";
      return isMap(v) ? "map" : "ptr";
  }
  return "invalid";
}

/** The Go type name of a value, as `%T` and error messages print it. */
export function typeName(v: unknown): string {
  switch (kindOf(v)) {
    case "invalid":
    case "nil":
      return "<nil>";
    case "bool":
      return "bool";
    case "int":
      return "int";
    case "float":
      return "float64";
    case "string":
      return v instanceof JsonNumber ? "json.Number" : "string";
    case "func":
      return "func(...interface {}) (interface {}, error)";
    case "struct":
      return "time.Time";
    case "slice":
      if (v instanceof Uint8Array) return "[]uint8";
      return goTypeOf(v as object)?.name ?? "[]interface {}";
    case "map":
      return goTypeOf(v as object)?.name ?? "map[string]interface {}";
    case "ptr": {
      const t = goTypeOf(v as object);
      if (t) return t.name;
      const ctor = (v as object).constructor;
      return `*${ctor?.name || "struct {}"}`;
    }
  }
  return "<nil>";
}

/** A number's value, whether plain or a {@linkcode GoFloat}. */
export function numberValue(v: number | GoFloat): number {
  return typeof v === "number" ? v : v.value;
}

/** Whether a value is a Go float64. */
export function isFloat(v: unknown): v is number | GoFloat {
  return kindOf(v) === "float";
}

/** Whether a value is a Go int. */
export function isInt(v: unknown): v is number {
  return typeof v === "number" && kindOf(v) === "int";
}

/**
 * A method of a value: a function property of a struct, or a method declared
 * in its {@linkcode GoType}. Returns undefined when there is none.
 */
export function methodOf(v: unknown, name: string): ((...args: unknown[]) => unknown) | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const declared = goTypeOf(v)?.methods?.[name];
  if (declared) return declared.bind(v) as (...args: unknown[]) => unknown;
  if (isMap(v) || Array.isArray(v)) return undefined;
  if (!(name in v)) return undefined;
  // A getter is a field, not a method: look at the descriptor before reading.
  let o: object | null = v;
  while (o) {
    const d = Object.getOwnPropertyDescriptor(o, name);
    if (d) {
      if (typeof d.value === "function") {
        const fn = d.value as ((...a: unknown[]) => unknown) & { returnsInterface?: boolean };
        const bound = fn.bind(v) as typeof fn;
        if (fn.returnsInterface) bound.returnsInterface = true;
        return bound;
      }
      return undefined;
    }
    o = Object.getPrototypeOf(o);
  }
  return undefined;
}

/** The `String()` method of a value (Go's fmt.Stringer), if it has one. */
export function stringer(v: unknown): (() => string) | undefined {
  if (v instanceof JsonNumber) return () => v.text;
  const m = methodOf(v, "String");
  return m ? () => String(m()) : undefined;
}

/** Go's isTrue: the truth of a value for `if`, `with`, `and`, `or`, `not`. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case "invalid":
    case "nil":
      return false;
    case "bool":
      return v as boolean;
    case "int":
    case "float":
      return typeof v === "bigint" ? v !== 0n : numberValue(v as number) !== 0;
    case "string":
      return v instanceof JsonNumber ? v.text.length > 0 : (v as string).length > 0;
    case "slice":
      return (v as ArrayLike<unknown>).length > 0;
    case "map":
      return Object.keys(v as object).length > 0;
    default:
      return true;
  }
}

/** Compares two strings the way Go does (by bytes of UTF-8, i.e. by code point). */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (astral code points) sort after the rest of the BMP.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/** A map's keys in Go's iteration order for printing and `range` (sorted). */
export function sortedKeys(m: object): string[] {
  return Object.keys(m).sort(compareStrings);
}

/** A map value by key, `undefined` when absent (a JS `undefined` value is a nil). */
export function mapIndex(m: Record<string, unknown>, key: string): unknown {
  if (!Object.hasOwn(m, key)) return undefined;
  const v = m[key];
  return v === undefined ? null : v;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The UTF-8 length of a string in bytes (Go's `len`). */
export function byteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** The UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decodes UTF-8 bytes (invalid sequences become U+FFFD, as Go prints them). */
export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

/** Whether a string is all ASCII, so byte offsets equal string offsets. */
export function isAscii(s: string): boolean {
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(s);
}

/** Go's `s[start:end]` on bytes, for strings that may hold non-ASCII text. */
export function byteSlice(s: string, start: number, end?: number): string {
  if (isAscii(s)) return s.slice(start, end);
  return fromUtf8(utf8(s).subarray(start, end));
}

/** Go's `time.Time`, enough of it for templates: an instant and a zone offset. */
export class GoTime {
  /** Milliseconds since the Unix epoch. */
  readonly ms: number;
  /** Nanoseconds within the millisecond (0-999999). */
  readonly extraNanos: number;
  /** Seconds since the process started, for the monotonic "m=" part, if any. */
  readonly monotonic: number | undefined;

  constructor(ms: number, extraNanos = 0, monotonic?: number) {
    this.ms = ms;
    this.extraNanos = extraNanos;
    this.monotonic = monotonic;
  }

  /** Go's `Time.String()`. */
  String(): string {
    // Imported lazily to keep this module free of formatting code.
    return timeString(this);
  }

  /** Go's `Time.Unix()`. */
  Unix(): number {
    return Math.floor(this.ms / 1000);
  }
}

let timeString: (t: GoTime) => string = (t) => new Date(t.ms).toISOString();

/** Installs the `Time.String()` implementation (done by gotime.ts). */
export function setTimeString(fn: (t: GoTime) => string): void {
  timeString = fn;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const GRAPHIC_SPACE = /^\p{Zs}$/u;

/** Go's `strconv.IsPrint` / `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols, ' '. */
export function isPrint(cp: number): boolean {
  if (cp < 0x80) return cp >= 0x20 && cp < 0x7f;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  return PRINTABLE.test(String.fromCodePoint(cp));
}

/** Go's `unicode.IsSpace`. */
export function isSpace(cp: number): boolean {
  if (cp < 0x100) {
    return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp === 0x85 || cp === 0xa0;
  }
  return GRAPHIC_SPACE.test(String.fromCodePoint(cp)) || cp === 0x2028 || cp === 0x2029;
}
