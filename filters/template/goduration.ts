/**
 * Go's `time.Duration` for sprig's date functions: `time.ParseDuration`
 * (exact, in nanoseconds) and `Duration.String()` ("1h0m0s", "1.5s",
 * "100ms", "2µs").
 *
 * @module
 */

const UNIT_NANOS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n, // U+00B5 micro sign
  "μs": 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_DURATION = (1n << 63n) - 1n;
const PART = /([0-9]*)(?:\.([0-9]*))?([^0-9.]*)/y;

function quote(s: string): string {
  return JSON.stringify(s);
}

/** Go's `time.ParseDuration`: nanoseconds, or an Error worded as Go's. */
export function parseGoDuration(text: string): bigint {
  const invalid = () => new Error(`time: invalid duration ${quote(text)}`);
  let s = text;
  let neg = false;
  if (s[0] === "-" || s[0] === "+") {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") throw invalid();
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    PART.lastIndex = i;
    const m = PART.exec(s)!;
    const [whole, intPart, frac, unit] = [m[0], m[1], m[2], m[3]];
    if (intPart === "" && (frac === undefined || frac === "")) throw invalid();
    if (unit === "") throw new Error(`time: missing unit in duration ${quote(text)}`);
    const scale = UNIT_NANOS[unit];
    if (scale === undefined) {
      throw new Error(`time: unknown unit ${quote(unit)} in duration ${quote(text)}`);
    }
    let v = BigInt(intPart || "0") * scale;
    if (frac) v += (BigInt(frac) * scale) / 10n ** BigInt(frac.length);
    total += v;
    if (total > MAX_DURATION + (neg ? 1n : 0n)) throw invalid();
    i += whole.length;
  }
  return neg ? -total : total;
}

/** `v / 10**prec` as its fraction (".123", trailing zeros dropped, "" if 0) and whole part. */
function fmtFrac(v: bigint, prec: number): [string, bigint] {
  let digits = "";
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    print ||= digit !== 0n;
    if (print) digits = String(digit) + digits;
    v /= 10n;
  }
  return [print ? "." + digits : "", v];
}

/** Go's `Duration.String()` of `nanos`. */
export function durationString(nanos: bigint): string {
  const neg = nanos < 0n;
  let u = neg ? -nanos : nanos;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return "0s";
    let prec: number;
    let unit: string;
    if (u < 1_000n) [prec, unit] = [0, "ns"];
    else if (u < 1_000_000n) [prec, unit] = [3, "µs"];
    else [prec, unit] = [6, "ms"];
    const [frac, whole] = fmtFrac(u, prec);
    out = String(whole) + frac + unit;
  } else {
    const [frac, secs] = fmtFrac(u, 9);
    u = secs;
    out = String(u % 60n) + frac + "s";
    u /= 60n;
    if (u > 0n) {
      out = String(u % 60n) + "m" + out;
      u /= 60n;
      if (u > 0n) out = String(u) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

/**
 * Go's `Duration.String()` of `ms` milliseconds (a `performance.now()`
 * difference), to the nanosecond. Under a minute, as request timings are,
 * it works on numbers: the BigInt path costs a few hundred nanoseconds.
 */
export function millisecondsString(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (!(ns >= 0 && ns < 60e9)) return durationString(BigInt(Number.isFinite(ns) ? ns : 0));
  if (ns === 0) return "0s";
  if (ns < 1e3) return ns + "ns";
  if (ns < 1e6) return decimalOf(ns, 1e3) + "µs";
  if (ns < 1e9) return decimalOf(ns, 1e6) + "ms";
  return decimalOf(ns, 1e9) + "s";
}

/** `value / unit` (a power of ten), its decimals with trailing zeros dropped. */
function decimalOf(value: number, unit: number): string {
  const whole = Math.floor(value / unit);
  const fraction = value - whole * unit;
  if (fraction === 0) return String(whole);
  // `unit + fraction` spells the fraction's digits zero-padded after a leading 1.
  const digits = String(unit + fraction);
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === ZERO) end--;
  return whole + "." + digits.slice(1, end);
}

const ZERO = 48;

/** Go's `Duration.Round(m)`: halfway values round away from zero. */
export function roundDuration(d: bigint, m: bigint): bigint {
  if (m <= 0n) return d;
  let r = d % m;
  if (d < 0n) {
    r = -r;
    return r + r < m ? d + r : d - m + r;
  }
  return r + r < m ? d - r : d + m - r;
}
