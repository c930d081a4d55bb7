/**
 * Go's `time.ParseInLocation(layout, value, time.Local)` for sprig's
 * `toDate`: the same layout elements as formatting, the same leniency
 * (one- or two-digit numbers where the layout has `1`, `2`, `3`...,
 * fractional seconds after `05` even when the layout has none, case-blind
 * month and day names) and the same error messages. Times without a zone in
 * the value are the local zone's; a zone abbreviation other than the local
 * zone's counts as UTC, as Go records it with an unknown offset.
 *
 * @module
 */

import { type Chunk, DAYS, MONTHS, nextStdChunk, utcDate } from "./gotime.ts";
import { GoTime } from "./values.ts";

const SHORT_MONTHS = MONTHS.map((m) => m.slice(0, 3));
const SHORT_DAYS = DAYS.map((d) => d.slice(0, 3));

function quote(s: string): string {
  return JSON.stringify(s);
}

/** Go's time.ParseError. */
function parseError(
  layout: string,
  value: string,
  layoutElem: string,
  valueElem: string,
  message = "",
): Error {
  if (message) return new Error(`parsing time ${quote(value)}${message}`);
  return new Error(
    `parsing time ${quote(value)} as ${quote(layout)}: cannot parse ${quote(valueElem)} as ${
      quote(layoutElem)
    }`,
  );
}

const isDigitAt = (s: string, i: number) => i < s.length && s[i] >= "0" && s[i] <= "9";

/** Go's getnum / getnum3: up to `max` digits (exactly `max` when `fixed`). */
function getnum(s: string, fixed: boolean, max = 2): [number, string] | undefined {
  let n = 0;
  let i = 0;
  while (i < max && isDigitAt(s, i)) n = n * 10 + (s.charCodeAt(i++) - 48);
  if (i === 0 || (fixed && i < max)) return undefined;
  return [n, s.slice(i)];
}

/** Go's lookup: the index of the name `value` starts with (ASCII case folded). */
function lookup(names: readonly string[], value: string): [number, string] | undefined {
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (
      value.length >= name.length &&
      value.slice(0, name.length).toLowerCase() === name.toLowerCase()
    ) {
      return [i, value.slice(name.length)];
    }
  }
  return undefined;
}

/** Go's skip: `prefix` must start `value`; a space matches any run of spaces. */
function skip(value: string, prefix: string): string | undefined {
  while (prefix.length > 0) {
    if (prefix[0] === " ") {
      if (value.length > 0 && value[0] !== " ") return undefined;
      prefix = prefix.replace(/^ +/, "");
      value = value.replace(/^ +/, "");
      continue;
    }
    if (value.length === 0 || value[0] !== prefix[0]) return undefined;
    prefix = prefix.slice(1);
    value = value.slice(1);
  }
  return value;
}

/** Go's parseNanoseconds of `value[0:n]` (a separator, then digits). */
function nanoseconds(value: string, n: number): number | undefined {
  if (value[0] !== "." && value[0] !== ",") return undefined;
  const digits = value.slice(1, Math.min(n, 10));
  if (!/^[0-9]+$/.test(digits)) return undefined;
  return Number(digits.padEnd(9, "0"));
}

/** Go's parseTimeZone: the length of a zone abbreviation at the start of `value`, or 0. */
function zoneLength(value: string): number {
  if (value.length < 3) return 0;
  if (value.startsWith("ChST") || value.startsWith("MeST")) return 4;
  if (value.startsWith("GMT")) {
    const m = /^[+-](\d{1,2})/.exec(value.slice(3));
    if (!m) return 3;
    const n = Number(m[1]);
    return n === 0 || n > 23 ? 3 : 3 + m[0].length;
  }
  let upper = 0;
  while (upper < 6 && upper < value.length && value[upper] >= "A" && value[upper] <= "Z") upper++;
  if (upper === 3) return 3;
  if (upper === 4 && (value[3] === "T" || value.startsWith("WITA"))) return 4;
  if (upper === 5 && value[4] === "T") return 5;
  return 0;
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

function daysIn(month: number, year: number): number {
  if (month === 2 && isLeap(year)) return 29;
  return DAYS_BEFORE[month] - DAYS_BEFORE[month - 1];
}

/** The local zone's offset east of UTC, in ms, at the wall time `wallMs` (read as UTC). */
function localOffsetAt(wallMs: number): number {
  const first = -new Date(wallMs).getTimezoneOffset() * 60_000;
  return -new Date(wallMs - first).getTimezoneOffset() * 60_000;
}

/** The abbreviation the local zone uses at `ms`, e.g. "UTC" or "CET". */
function localZoneName(ms: number): string {
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(new Date(ms)).find((p) => p.type === "timeZoneName")?.value ?? "";
  return part === "GMT" ? "UTC" : part;
}

/** Go's `time.ParseInLocation(layout, value, time.Local)`; throws Go's ParseError text. */
export function parseTime(layout: string, value: string): GoTime {
  const fullLayout = layout;
  const fullValue = value;
  let pmSet = false;
  let amSet = false;
  let year = 0;
  let month = -1;
  let day = -1;
  let yday = -1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let utc = false;
  let zoneOffset: number | undefined;
  let zoneName = "";
  for (;;) {
    const chunk: Chunk = nextStdChunk(layout);
    const stdstr = layout.slice(chunk.prefix.length, layout.length - chunk.suffix.length);
    const skipped = skip(value, chunk.prefix);
    if (skipped === undefined) throw parseError(fullLayout, fullValue, chunk.prefix, value);
    value = skipped;
    if (!chunk.std) {
      if (value.length !== 0) {
        throw parseError(fullLayout, fullValue, "", value, `: extra text: ${quote(value)}`);
      }
      break;
    }
    layout = chunk.suffix;
    const hold = value;
    let ok = true;
    let range = "";
    const num = (fixed: boolean, max = 2): number => {
      const r = getnum(value, fixed, max);
      if (!r) {
        ok = false;
        return 0;
      }
      value = r[1];
      return r[0];
    };
    switch (chunk.std) {
      case "06":
        if (value.length < 2 || !/^[0-9]{2}/.test(value)) ok = false;
        else {
          year = Number(value.slice(0, 2));
          year += year >= 69 ? 1900 : 2000;
          value = value.slice(2);
        }
        break;
      case "2006":
        if (value.length < 4 || !/^[0-9]{4}/.test(value)) ok = false;
        else {
          year = Number(value.slice(0, 4));
          value = value.slice(4);
        }
        break;
      case "Jan":
      case "January": {
        const r = lookup(chunk.std === "Jan" ? SHORT_MONTHS : MONTHS, value);
        if (!r) ok = false;
        else [month, value] = [r[0] + 1, r[1]];
        break;
      }
      case "1":
      case "01":
        month = num(chunk.std === "01");
        if (ok && (month <= 0 || month > 12)) range = "month";
        break;
      case "Mon":
      case "Monday": {
        const r = lookup(chunk.std === "Mon" ? SHORT_DAYS : DAYS, value);
        if (!r) ok = false;
        else value = r[1];
        break;
      }
      case "2":
      case "_2":
      case "02":
        if (chunk.std === "_2" && value[0] === " ") value = value.slice(1);
        day = num(chunk.std === "02");
        break;
      case "__2":
      case "002":
        for (let i = 0; i < 2; i++) {
          if (chunk.std === "__2" && value[0] === " ") value = value.slice(1);
        }
        yday = num(chunk.std === "002", 3);
        break;
      case "15":
        hour = num(false);
        if (hour < 0 || hour >= 24) range = "hour";
        break;
      case "3":
      case "03":
        hour = num(chunk.std === "03");
        if (hour < 0 || hour > 12) range = "hour";
        break;
      case "4":
      case "04":
        min = num(chunk.std === "04");
        if (min < 0 || min >= 60) range = "minute";
        break;
      case "5":
      case "05": {
        sec = num(chunk.std === "05");
        if (!ok) break;
        if (sec < 0 || sec >= 60) {
          range = "second";
          break;
        }
        // A fraction in the value with none in the layout is taken too.
        if (value.length >= 2 && (value[0] === "." || value[0] === ",") && isDigitAt(value, 1)) {
          const next = nextStdChunk(layout).std;
          if (next === "frac0" || next === "frac9") break;
          let n = 2;
          while (n < value.length && isDigitAt(value, n)) n++;
          const ns = nanoseconds(value, n);
          if (ns === undefined) ok = false;
          else nsec = ns;
          value = value.slice(n);
        }
        break;
      }
      case "PM":
      case "pm": {
        const p = value.slice(0, 2);
        const [pm, am] = chunk.std === "PM" ? ["PM", "AM"] : ["pm", "am"];
        if (p === pm) pmSet = true;
        else if (p === am) amSet = true;
        else ok = false;
        if (ok) value = value.slice(2);
        break;
      }
      case "MST": {
        if (value.startsWith("UTC")) {
          utc = true;
          value = value.slice(3);
          break;
        }
        const n = zoneLength(value);
        if (n === 0) ok = false;
        else [zoneName, value] = [value.slice(0, n), value.slice(n)];
        break;
      }
      case "frac0": {
        const n = 1 + chunk.digits!;
        if (value.length < n) {
          ok = false;
          break;
        }
        const ns = nanoseconds(value, n);
        if (ns === undefined) ok = false;
        else nsec = ns;
        value = value.slice(n);
        break;
      }
      case "frac9": {
        if (value.length < 2 || (value[0] !== "." && value[0] !== ",") || !isDigitAt(value, 1)) {
          break;
        }
        let i = 0;
        while (isDigitAt(value, i + 1)) i++;
        const ns = nanoseconds(value, 1 + i);
        if (ns === undefined) ok = false;
        else nsec = ns;
        value = value.slice(1 + i);
        break;
      }
      default: {
        // Numeric zones: Z07:00, -0700, -07, Z070000...
        const std = chunk.std;
        if (std[0] === "Z" && value[0] === "Z" && std.length <= 6) {
          value = value.slice(1);
          utc = true;
          break;
        }
        const body = std.slice(1); // "07:00", "0700", "07", "070000", "07:00:00"
        const colon = body.includes(":");
        const len = 1 + body.length;
        if (value.length < len) {
          ok = false;
          break;
        }
        const text = value.slice(1, len);
        if (colon && (text[2] !== ":" || (body.length === 8 && text[5] !== ":"))) {
          ok = false;
          break;
        }
        const digits = text.replaceAll(":", "");
        if (!/^[0-9]+$/.test(digits)) {
          ok = false;
          break;
        }
        const hh = Number(digits.slice(0, 2));
        const mm = Number(digits.slice(2, 4) || "0");
        const ss = Number(digits.slice(4, 6) || "0");
        const sign = value[0];
        if (sign !== "+" && sign !== "-") {
          ok = false;
          break;
        }
        zoneOffset = ((hh * 60 + mm) * 60 + ss) * (sign === "-" ? -1 : 1);
        value = value.slice(len);
      }
    }
    if (range) {
      throw parseError(fullLayout, fullValue, stdstr, value, `: ${range} out of range`);
    }
    if (!ok) throw parseError(fullLayout, fullValue, stdstr, hold);
  }
  if (pmSet && hour < 12) hour += 12;
  else if (amSet && hour === 12) hour = 0;

  if (yday >= 0) {
    let m = 0;
    let d = 0;
    if (isLeap(year)) {
      if (yday === 31 + 29) [m, d] = [2, 29];
      else if (yday > 31 + 29) yday--;
    }
    if (yday < 1 || yday > 365) {
      throw parseError(fullLayout, fullValue, "", value, ": day-of-year out of range");
    }
    if (m === 0) {
      m = Math.floor((yday - 1) / 31) + 1;
      if (DAYS_BEFORE[m] < yday) m++;
      d = yday - DAYS_BEFORE[m - 1];
    }
    if (month >= 0 && month !== m) {
      throw parseError(fullLayout, fullValue, "", value, ": day-of-year does not match month");
    }
    month = m;
    if (day >= 0 && day !== d) {
      throw parseError(fullLayout, fullValue, "", value, ": day-of-year does not match day");
    }
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > daysIn(month, year)) {
    throw parseError(fullLayout, fullValue, "", value, ": day out of range");
  }

  const wall = utcDate(year, month - 1, day, hour, min, sec);
  let ms: number;
  if (utc) ms = wall;
  else if (zoneOffset !== undefined) ms = wall - zoneOffset * 1000;
  else if (zoneName) {
    // The local zone's offset when it goes by that name then, else an unknown zone at UTC.
    const local = wall - localOffsetAt(wall);
    ms = localZoneName(local) === zoneName ? local : wall;
    const gmt = /^GMT([+-]\d+)$/.exec(zoneName);
    if (ms === wall && gmt) ms = wall - Number(gmt[1]) * 3_600_000;
  } else ms = wall - localOffsetAt(wall);
  return new GoTime(ms + Math.floor(nsec / 1e6), nsec % 1e6);
}

/** Go's zero `time.Time` (January 1, year 1, 00:00:00 UTC). */
export const ZERO_TIME: GoTime = new GoTime(utcDate(1, 0, 1));
