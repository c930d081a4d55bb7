/**
 * Strict reading of untyped specs (parsed YAML/JSON) into typed, normalized
 * plain data. Every problem is recorded with its field path, unknown fields are
 * errors, and all problems are reported at once.
 *
 * @module
 */

import { parseGoDuration } from "./template/goduration.ts";
import { compileGoRegexp } from "./go_regexp.ts";
import { closestName } from "./closest_name.ts";
import { spellingOf } from "./yaml_plain_scalars.ts";

/** A spec that failed validation; `problems` lists each field path and what is wrong. */
export class SpecError extends Error {
  /** One entry per problem, each starting with the field path. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join("; "));
    this.name = "SpecError";
    this.problems = problems;
  }

  /** A copy of this error with every problem's path prefixed by `prefix`. */
  withPrefix(prefix: string): SpecError {
    return new SpecError(this.problems.map((p) => joinPath(prefix, p)));
  }
}

function joinPath(prefix: string, rest: string): string {
  if (!prefix) return rest;
  if (rest.startsWith("[")) return prefix + rest;
  return `${prefix}.${rest}`;
}

/** Options shared by the scalar readers. */
export interface FieldOptions<T> {
  /** The field must be present. @default {false} */
  required?: boolean;
  /** The value used when the field is absent. */
  default?: T;
}

/** Options for {@linkcode SpecReader.int} and {@linkcode SpecReader.number}. */
export interface NumberOptions extends FieldOptions<number> {
  /** Smallest accepted value. */
  min?: number;
  /** Largest accepted value. */
  max?: number;
}

/** Options for {@linkcode SpecReader.string}. */
export interface StringOptions extends FieldOptions<string> {
  /** The value must match this pattern. */
  pattern?: RegExp;
  /** Human words for the pattern, used in the error message. */
  patternName?: string;
  /** The value must be one of these. */
  oneOf?: readonly string[];
}

/** Whether a value is a plain object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses a Go duration string ("1h2m3.5s", "500ms", "0") into milliseconds,
 * by Go's own grammar (see template/goduration.ts). Returns `undefined` when
 * the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  try {
    return Number(parseGoDuration(text)) / 1e6;
  } catch {
    return undefined;
  }
}

/**
 * `text` parsed as a URL whose scheme is one of `protocols` ("http:",
 * "ws:", ...) and whose host is not empty, or undefined.
 */
export function urlWithProtocol(text: string, protocols: readonly string[]): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  return protocols.includes(url.protocol) && url.hostname !== "" ? url : undefined;
}

/** Formats milliseconds as a Go duration string ("1m30s", "500ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${+ms.toFixed(6)}ms`;
  let out = "";
  const h = Math.floor(ms / 3_600_000);
  if (h) out += `${h}h`;
  ms -= h * 3_600_000;
  const m = Math.floor(ms / 60_000);
  if (h || m) out += `${m}m`;
  ms -= m * 60_000;
  out += `${+(ms / 1000).toFixed(9)}s`;
  return sign + out;
}

/**
 * YAML 1.1's other booleans, which Easegress's Go YAML reads into a bool
 * field (`keepAlive: yes`, `https: on`); the YAML 1.2 parser here leaves
 * them strings, so a bool field takes them as Go does, and a string field
 * keeps them as text, as Go does too.
 */
const YAML_1_1_BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ...["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"].map((s) => [s, true] as const),
  ...["n", "N", "no", "No", "NO", "off", "Off", "OFF"].map((s) => [s, false] as const),
]);

/** `value` as a boolean, YAML 1.1's spellings included; undefined when it is none. */
export function yamlBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  return typeof value === "string" ? YAML_1_1_BOOLEANS.get(value) : undefined;
}

/**
 * Reads one level of an untyped spec. Child readers share the problem list of
 * their parent, so one {@linkcode SpecReader.throwIfProblems} at the root
 * reports everything found anywhere below.
 *
 * @example
 * ```ts
 * const r = SpecReader.root({ port: 80 });
 * const port = r.int("port", { required: true, min: 1, max: 65535 });
 * r.finish();
 * r.throwIfProblems();
 * ```
 */
export class SpecReader {
  readonly #value: Record<string, unknown>;
  readonly #path: string;
  readonly #problems: string[];
  readonly #seen = new Set<string>();
  readonly #valid: boolean;

  /** Creates a reader for `value` at `path`, recording into `problems`. */
  constructor(value: unknown, path = "", problems: string[] = []) {
    this.#path = path;
    this.#problems = problems;
    this.#valid = isPlainObject(value);
    this.#value = this.#valid ? value as Record<string, unknown> : {};
    if (!this.#valid && value !== undefined && value !== null) {
      this.#problems.push(`${path || "spec"}: must be an object`);
    }
  }

  /** A reader for a whole spec document. */
  static root(value: unknown): SpecReader {
    return new SpecReader(value);
  }

  /** The path of this level ("" at the root). */
  get path(): string {
    return this.#path;
  }

  /** The raw object being read. */
  get raw(): Readonly<Record<string, unknown>> {
    return this.#value;
  }

  /** Every problem recorded so far, anywhere in the tree. */
  get problems(): readonly string[] {
    return this.#problems;
  }

  /** The full path of `field` at this level. */
  pathOf(field: string): string {
    return joinPath(this.#path, field);
  }

  /** Records a problem for `field` (or for this level when `field` is empty). */
  problem(field: string, message: string): void {
    const where = field ? this.pathOf(field) : (this.#path || "spec");
    this.#problems.push(`${where}: ${message}`);
  }

  /** Records problems that already carry their full paths (from a nested validation). */
  addProblems(problems: readonly string[]): void {
    this.#problems.push(...problems);
  }

  /** Whether `field` is present (and not null). */
  has(field: string): boolean {
    const v = this.#value[field];
    return v !== undefined && v !== null;
  }

  /** Marks fields as known without reading them. */
  ignore(...fields: string[]): void {
    for (const f of fields) this.#seen.add(f);
  }

  #take(field: string, required?: boolean): unknown {
    this.#seen.add(field);
    const v = this.#value[field];
    if ((v === undefined || v === null) && required) this.problem(field, "is required");
    return v === null ? undefined : v;
  }

  /** Reads any value, unchecked. */
  any(field: string, options: FieldOptions<unknown> = {}): unknown {
    const v = this.#take(field, options.required);
    return v === undefined ? options.default : v;
  }

  /** Reads a string. Numbers and booleans are not strings. */
  string(field: string, options: StringOptions & { default: string }): string;
  string(field: string, options?: StringOptions): string | undefined;
  string(field: string, options: StringOptions = {}): string | undefined {
    const v = this.#take(field, options.required);
    if (v === undefined) return options.default;
    if (typeof v !== "string") {
      this.problem(field, `must be a string, got ${describe(v)}`);
      return options.default;
    }
    if (options.oneOf && !options.oneOf.includes(v)) {
      // An empty option (taken for the default, as Easegress's schemas do) is no name to offer.
      const names = options.oneOf.filter((o) => o !== "").join(", ");
      this.problem(field, `must be one of ${names}, got "${v}"`);
    } else if (options.pattern && !options.pattern.test(v)) {
      this.problem(
        field,
        `must be ${options.patternName ?? `like ${options.pattern}`}, got "${v}"`,
      );
    }
    return v;
  }

  /** Reads a boolean. */
  bool(field: string, defaultValue: boolean): boolean {
    const v = this.#take(field);
    if (v === undefined) return defaultValue;
    const b = yamlBoolean(v);
    if (b === undefined) {
      this.problem(field, `must be true or false, got ${describe(v)}`);
      return defaultValue;
    }
    return b;
  }

  /** Reads a number, optionally bounded. */
  number(field: string, options: NumberOptions & { default: number }): number;
  number(field: string, options?: NumberOptions): number | undefined;
  number(field: string, options: NumberOptions = {}): number | undefined {
    const v = this.#take(field, options.required);
    if (v === undefined) return options.default;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      this.problem(field, `must be a number, got ${describe(v)}`);
      return options.default;
    }
    if (options.min !== undefined && v < options.min) {
      this.problem(field, `must be at least ${options.min}, got ${v}`);
    } else if (options.max !== undefined && v > options.max) {
      this.problem(field, `must be at most ${options.max}, got ${v}`);
    }
    return v;
  }

  /** Reads an integer, optionally bounded. */
  int(field: string, options: NumberOptions & { default: number }): number;
  int(field: string, options?: NumberOptions): number | undefined;
  int(field: string, options: NumberOptions = {}): number | undefined {
    const before = this.#problems.length;
    const v = this.number(field, options);
    if (v !== undefined && this.#problems.length === before && !Number.isInteger(v)) {
      this.problem(field, `must be a whole number, got ${v}`);
    }
    return v;
  }

  /**
   * Reads a Go duration string ("10s", "1m30s"), not negative: every
   * duration of a spec is a timeout, a period or a wait. The stored form
   * stays a string. An optional one given empty (`timeout: ""`, as a
   * template that quotes an unset value writes it) is left out, as
   * Easegress checks no format on an optional field's empty value.
   */
  duration(field: string, options: FieldOptions<string> & { default: string }): string;
  duration(field: string, options?: FieldOptions<string>): string | undefined;
  duration(field: string, options: FieldOptions<string> = {}): string | undefined {
    const v = this.string(field, options);
    if (v === undefined || v === options.default) return v;
    if (v === "" && !options.required) return options.default;
    const ms = parseDuration(v);
    if (ms === undefined) {
      this.problem(field, `must be a duration such as "500ms" or "1m30s", got "${v}"`);
    } else if (ms < 0) {
      this.problem(field, `must not be negative, got "${v}"`);
    }
    return v;
  }

  /** Reads a regular expression source, checking that it compiles. */
  regexp(field: string, options: FieldOptions<string> = {}): string | undefined {
    const v = this.string(field, options);
    if (v !== undefined) {
      const error = regexpError(v);
      if (error) this.problem(field, `is not a valid regular expression: ${error}`);
    }
    return v;
  }

  /** Reads a list of strings. */
  stringArray(field: string, options: FieldOptions<string[]> = {}): string[] | undefined {
    const v = this.#take(field, options.required);
    if (v === undefined) return options.default;
    if (!Array.isArray(v)) {
      this.problem(field, `must be a list of strings, got ${describe(v)}`);
      return options.default;
    }
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item === "string") out.push(item);
      else this.problem(`${field}[${i}]`, `must be a string, got ${describe(item)}`);
    });
    return out;
  }

  /** Reads a list of whole numbers, each bounded by `options`. */
  intArray(field: string, options: NumberOptions = {}): number[] | undefined {
    const v = this.#take(field, options.required);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      this.problem(field, `must be a list of numbers, got ${describe(v)}`);
      return undefined;
    }
    const out: number[] = [];
    v.forEach((item, i) => {
      const where = `${field}[${i}]`;
      if (typeof item !== "number" || !Number.isInteger(item)) {
        this.problem(where, `must be a whole number, got ${describe(item)}`);
      } else if (options.min !== undefined && item < options.min) {
        this.problem(where, `must be at least ${options.min}, got ${item}`);
      } else if (options.max !== undefined && item > options.max) {
        this.problem(where, `must be at most ${options.max}, got ${item}`);
      } else out.push(item);
    });
    return out;
  }

  /** Reads a map from string to string. */
  stringMap(
    field: string,
    options: FieldOptions<Record<string, string>> = {},
  ): Record<string, string> | undefined {
    const v = this.#take(field, options.required);
    if (v === undefined) return options.default;
    if (!isPlainObject(v)) {
      this.problem(field, `must be a map of strings, got ${describe(v)}`);
      return options.default;
    }
    const out: Record<string, string> = {};
    for (const [k, item] of Object.entries(v)) {
      if (typeof item === "string") out[k] = item;
      else if (typeof item === "number" || typeof item === "boolean") {
        // As written: `X-Version: 1.10` is "1.10", as Go's YAML decoder gives a string.
        out[k] = spellingOf(v, k) ?? String(item);
      } else this.problem(`${field}.${k}`, `must be a string, got ${describe(item)}`);
    }
    return out;
  }

  /** Reads a nested object with `read`, which sees a reader for it. */
  object<T>(
    field: string,
    read: (r: SpecReader) => T,
    options: { required?: boolean } = {},
  ): T | undefined {
    const v = this.#take(field, options.required);
    if (v === undefined) return undefined;
    if (!isPlainObject(v)) {
      this.problem(field, `must be an object, got ${describe(v)}`);
      return undefined;
    }
    const child = new SpecReader(v, this.pathOf(field), this.#problems);
    const out = read(child);
    child.finish();
    return out;
  }

  /** Reads a list of objects, each with `read`. */
  array<T>(
    field: string,
    read: (r: SpecReader, index: number) => T,
    options: { required?: boolean; minItems?: number } = {},
  ): T[] | undefined {
    const v = this.#take(field, options.required);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      this.problem(field, `must be a list, got ${describe(v)}`);
      return undefined;
    }
    if (options.minItems !== undefined && v.length < options.minItems) {
      this.problem(field, `must have at least ${options.minItems} item(s)`);
    }
    return v.map((item, i) => {
      const child = new SpecReader(item, `${this.pathOf(field)}[${i}]`, this.#problems);
      if (!isPlainObject(item)) {
        if (item === undefined || item === null) child.problem("", "must be an object");
        return read(child, i);
      }
      const out = read(child, i);
      child.finish();
      return out;
    });
  }

  /** Reads a map whose values are objects, each with `read`. */
  map<T>(
    field: string,
    read: (r: SpecReader, key: string) => T,
    options: { required?: boolean } = {},
  ): Record<string, T> | undefined {
    const v = this.#take(field, options.required);
    if (v === undefined) return undefined;
    if (!isPlainObject(v)) {
      this.problem(field, `must be a map, got ${describe(v)}`);
      return undefined;
    }
    const out: Record<string, T> = {};
    for (const [key, item] of Object.entries(v)) {
      const child = new SpecReader(item, `${this.pathOf(field)}.${key}`, this.#problems);
      out[key] = read(child, key);
      if (isPlainObject(item)) child.finish();
    }
    return out;
  }

  /** Records every field of this level that no reader asked for, naming a known one it resembles. */
  finish(): void {
    const value = this.#value;
    for (const key of Object.keys(value)) {
      if (this.#seen.has(key)) continue;
      // A key left empty (`"": 1`, or `~: 1`, which reads as "") has no path of its own:
      // told at this level, by its name, rather than as this level being unknown.
      if (key === "") {
        this.problem("", 'unknown field ""');
        continue;
      }
      const absent = [...this.#seen].filter((field) => !(field in value));
      const near = closestName(key, absent);
      this.problem(key, near ? `unknown field (did you mean ${near}?)` : "unknown field");
    }
  }

  /** Throws a {@linkcode SpecError} if anything was recorded. */
  throwIfProblems(): void {
    if (this.#problems.length) throw new SpecError([...this.#problems]);
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `"${v}"`;
  return `${typeof v} ${String(v)}`;
}

/** The reason a regular expression source does not compile, or "" when it does. */
export function regexpError(source: string): string {
  try {
    compileGoRegexp(source);
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}
