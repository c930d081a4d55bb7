/**
 * The rest of slim-sprig's function table, as Easegress's builders have it:
 * date parsing and arithmetic (`toDate`, `dateModify`, `ago`, `duration`,
 * `durationRound`), `env`/`expandenv`, `seq`, `toDecimal`, `randInt`,
 * `dig`, `chunk` and `urlParse`/`urlJoin`. The `must*` forms that only
 * differ from a plain function by returning its panic as an error are
 * aliases (either way the template fails with the message); `getHostByName`
 * is left out, since a template here cannot wait for a DNS answer.
 *
 * @module
 */

import { formatValue } from "./fmt.ts";
import { goFunc, type GoFunction, type ParamType } from "./functions.ts";
import { durationString, parseGoDuration, roundDuration } from "./goduration.ts";
import { goHostname, goUrlString, parseGoUrl } from "./go_url.ts";
import { parseTime, ZERO_TIME } from "./gotime_parse.ts";
import { GoTime, isMap, kindOf, typeName } from "./values.ts";

const S: ParamType = "string";
const I: ParamType = "int";
const A: ParamType = "any";
const M: ParamType = "map";

type Dict = Record<string, unknown>;

const SECOND = 1_000_000_000n;

function nanosOf(t: GoTime): bigint {
  return BigInt(t.ms) * 1_000_000n + BigInt(t.extraNanos);
}

/** Go's `Time.Add(d)`. */
function addDuration(t: GoTime, d: bigint): GoTime {
  const total = nanosOf(t) + d;
  let ms = total / 1_000_000n;
  let extra = total % 1_000_000n;
  if (extra < 0n) [ms, extra] = [ms - 1n, extra + 1_000_000n];
  const mono = t.monotonic === undefined ? undefined : t.monotonic + Number(d) / 1e9;
  return new GoTime(Number(ms), Number(extra), mono);
}

/** Nanoseconds from `t` to now (Go's `time.Since`). */
function since(t: GoTime): bigint {
  return BigInt(Date.now()) * 1_000_000n - nanosOf(t);
}

function timeArg(v: unknown): GoTime {
  if (v instanceof GoTime) return v;
  throw new Error(`wrong type for value; expected time.Time; got ${typeName(v)}`);
}

/** Whole numbers count as int64 here: the value model does not tell int from int64. */
function isInteger(v: unknown): v is number {
  return kindOf(v) === "int";
}

/** Go's strconv.ParseInt(s, base, 64), or undefined on any error. */
function parseInt64(s: string, base: 8 | 10): bigint | undefined {
  const digits = base === 8 ? /^[+-]?[0-7]+$/ : /^[+-]?[0-9]+$/;
  if (!digits.test(s)) return undefined;
  const neg = s[0] === "-";
  const body = s.replace(/^[+-]/, "");
  let n = 0n;
  for (const c of body) n = n * BigInt(base) + BigInt(c.charCodeAt(0) - 48);
  if (neg) n = -n;
  return n >= -(1n << 63n) && n < 1n << 63n ? n : undefined;
}

function durationRound(v: unknown): string {
  let d = 0n;
  if (typeof v === "string") {
    try {
      d = parseGoDuration(v);
    } catch {
      d = 0n;
    }
  } else if (isInteger(v)) d = BigInt(v);
  else if (v instanceof GoTime) d = since(v);
  const u = d < 0n ? -d : d;
  const hour = 3600n * SECOND;
  const day = 24n * hour;
  const units: [bigint, string][] = [
    [365n * day, "y"],
    [30n * day, "mo"],
    [day, "d"],
    [hour, "h"],
    [60n * SECOND, "m"],
    [SECOND, "s"],
  ];
  for (const [size, suffix] of units) if (u > size) return String(u / size) + suffix;
  return "0s";
}

function isShellSpecial(c: string): boolean {
  return "*#$@!?-".includes(c) || (c >= "0" && c <= "9");
}

/** Go's os.getShellName: the variable name after "$" and how many bytes it takes. */
function shellName(s: string): [string, number] {
  if (s[0] === "{") {
    if (s.length > 2 && isShellSpecial(s[1]) && s[2] === "}") return [s[1], 3];
    for (let i = 1; i < s.length; i++) {
      if (s[i] === "}") return i === 1 ? ["", 2] : [s.slice(1, i), i + 1];
    }
    return ["", 1];
  }
  if (isShellSpecial(s[0])) return [s[0], 1];
  const m = /^[A-Za-z0-9_]*/.exec(s)!;
  return [m[0], m[0].length];
}

function getenv(name: string): string {
  try {
    return Deno.env.get(name) ?? "";
  } catch {
    return ""; // no permission to read the environment: as if unset
  }
}

/** Go's os.ExpandEnv. */
function expandEnv(s: string): string {
  let out = "";
  let i = 0;
  for (let j = 0; j < s.length; j++) {
    if (s[j] !== "$" || j + 1 >= s.length) continue;
    out += s.slice(i, j);
    const [name, w] = shellName(s.slice(j + 1));
    if (name === "" && w > 0) {
      // Bad syntax: the characters are eaten.
    } else if (name === "") out += "$";
    else out += getenv(name);
    j += w;
    i = j + 1;
  }
  return i === 0 ? s : out + s.slice(i);
}

/** Sprig's untilStep: start, start+step, ... up to (not including) stop; empty when step goes the wrong way. */
export function untilStep(start: number, stop: number, step: number): number[] {
  const v: number[] = [];
  if (stop < start) {
    if (step >= 0) return v;
    for (let i = start; i > stop; i += step) v.push(i);
    return v;
  }
  if (step <= 0) return v;
  for (let i = start; i < stop; i += step) v.push(i);
  return v;
}

/** sprig's seq: "1 2 3" for `seq 3`, `seq 1 3`, `seq 1 1 3`; counts down when end < start. */
function seq(...params: number[]): string {
  let list: number[];
  switch (params.length) {
    case 1: {
      const end = params[0];
      const inc = end < 1 ? -1 : 1;
      list = untilStep(1, end + inc, inc);
      break;
    }
    case 2: {
      const [start, end] = params;
      const step = end < start ? -1 : 1;
      list = untilStep(start, end + step, step);
      break;
    }
    case 3: {
      const [start, step, end] = params;
      if (end < start && step > 0) return "";
      list = untilStep(start, end + (end < start ? -1 : 1), step);
      break;
    }
    default:
      return "";
  }
  return list.join(" ");
}

function dig(...ps: unknown[]): unknown {
  if (ps.length < 3) throw new Error("dig needs at least three arguments");
  const keys = ps.slice(0, -2).map((k) => {
    if (typeof k !== "string") {
      throw new Error(`interface conversion: interface {} is ${typeName(k)}, not string`);
    }
    return k;
  });
  const def = ps[ps.length - 2];
  let dict = ps[ps.length - 1];
  for (let i = 0;; i++) {
    if (!isMap(dict)) {
      throw new Error(
        `interface conversion: interface {} is ${typeName(dict)}, not map[string]interface {}`,
      );
    }
    if (!Object.hasOwn(dict, keys[i])) return def;
    const step = dict[keys[i]] ?? null;
    if (i === keys.length - 1) return step;
    dict = step;
  }
}

function chunk(size: number, list: unknown): unknown[][] {
  if (!Array.isArray(list) && !(list instanceof Uint8Array)) {
    throw new Error(`Cannot chunk type ${kindOf(list) === "nil" ? "invalid" : kindOf(list)}`);
  }
  const items = [...list].map((x) => x ?? null);
  if (size <= 0) throw new Error("runtime error: makeslice: len out of range");
  const out: unknown[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function urlParse(v: string): Dict {
  let u;
  try {
    u = parseGoUrl(v);
  } catch (e) {
    throw new Error(`unable to parse url: ${(e as Error).message}`);
  }
  return {
    scheme: u.scheme,
    host: u.host,
    hostname: goHostname(u.host),
    path: u.path,
    query: u.rawQuery,
    opaque: u.opaque,
    fragment: u.fragment,
    userinfo: u.userinfo ?? "",
  };
}

function urlJoin(d: Dict): string {
  const get = (k: string) => (typeof d[k] === "string" ? d[k] as string : "");
  const userinfo = get("userinfo");
  return goUrlString({
    scheme: get("scheme"),
    host: get("host"),
    path: get("path"),
    rawQuery: get("query"),
    opaque: get("opaque"),
    fragment: get("fragment"),
    userinfo: userinfo === "" ? undefined : userinfo,
    forceQuery: false,
  });
}

/** The functions of slim-sprig that `sprigFunctions` does not define itself. */
export function moreSprigFunctions(): Record<string, GoFunction> {
  const dateModify = goFunc([S, A], (fmt: string, date: unknown) => {
    const t = timeArg(date);
    let d: bigint;
    try {
      d = parseGoDuration(fmt);
    } catch {
      return t;
    }
    return addDuration(t, d);
  });
  const mustDateModify = goFunc(
    [S, A],
    (fmt: string, date: unknown) => addDuration(timeArg(date), parseGoDuration(fmt)),
  );
  const chunkFunc = goFunc([I, A], chunk);
  return {
    toDate: goFunc([S, S], (fmt: string, str: string) => {
      try {
        return parseTime(fmt, str);
      } catch {
        return ZERO_TIME;
      }
    }),
    mustToDate: goFunc([S, S], parseTime),
    dateModify,
    date_modify: dateModify,
    mustDateModify,
    must_date_modify: mustDateModify,
    ago: goFunc([A], (date: unknown) => {
      const t = date instanceof GoTime
        ? date
        : isInteger(date)
        ? new GoTime(date * 1000)
        : new GoTime(Date.now());
      return durationString(roundDuration(since(t), SECOND));
    }),
    duration: goFunc([A], (sec: unknown) => {
      let n = 0n;
      if (typeof sec === "string") n = parseInt64(sec, 10) ?? 0n;
      else if (isInteger(sec)) n = BigInt(sec);
      return durationString(BigInt.asIntN(64, n * SECOND));
    }),
    durationRound: goFunc([A], durationRound),
    env: goFunc([S], getenv),
    expandenv: goFunc([S], expandEnv),
    seq: goFunc([], seq, I),
    toDecimal: goFunc([A], (v: unknown) => Number(parseInt64(formatValue(v), 8) ?? 0n)),
    randInt: goFunc([I, I], (min: number, max: number) => {
      if (max - min <= 0) throw new Error("invalid argument to Intn");
      return min + Math.floor(Math.random() * (max - min));
    }),
    dig: goFunc([], dig, A),
    chunk: chunkFunc,
    mustChunk: chunkFunc,
    urlParse: goFunc([S], urlParse),
    urlJoin: goFunc([M], urlJoin),
  };
}
