/**
 * Go's time formatting (`Time.Format` layouts such as "2006-01-02 15:04:05"
 * and `Time.String()`), for sprig's date functions and for printing
 * {@linkcode GoTime} values.
 *
 * @module
 */

import { GoTime, setTimeString } from "./values.ts";

/** Go's month names, January first. */
export const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
/** Go's weekday names, Sunday first. */
export const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** Broken-down time in a zone. */
interface Civil {
  year: number;
  month: number;
  day: number;
  yday: number;
  weekday: number;
  hour: number;
  min: number;
  sec: number;
  nanos: number;
  /** Seconds east of UTC. */
  offset: number;
  /** Zone abbreviation, "" when the zone has none. */
  name: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function zoneFormatter(zone: string): Intl.DateTimeFormat | undefined {
  let f = formatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: zone === "Local" ? undefined : zone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
        timeZoneName: "short",
      });
    } catch {
      return undefined;
    }
    formatters.set(zone, f);
  }
  return f;
}

/** Whether Go's time.LoadLocation would accept the zone name (approximated with Intl). */
export function knownZone(zone: string): boolean {
  return zone === "" || zone === "UTC" || zone === "Local" || zoneFormatter(zone) !== undefined;
}

/** `Date.UTC` without its quirk of reading years 0-99 as 1900-1999 (Go's zero time is in year 1). */
export function utcDate(year: number, month0: number, day: number, h = 0, mi = 0, s = 0): number {
  const date = new Date(Date.UTC(2000, 0, 1, h, mi, s));
  date.setUTCFullYear(year, month0, day);
  return date.getTime();
}

function civil(t: GoTime, zone: string): Civil {
  let offsetMin = 0;
  let name = "UTC";
  if (zone !== "UTC" && zone !== "") {
    const f = zoneFormatter(zone) ?? zoneFormatter("UTC")!;
    const parts = f.formatToParts(new Date(t.ms));
    const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
    const asUTC = utcDate(
      get("year"),
      get("month") - 1,
      get("day"),
      get("hour"),
      get("minute"),
      get("second"),
    );
    offsetMin = Math.round((asUTC - Math.floor(t.ms / 1000) * 1000) / 60000);
    const tzName = parts.find((p) => p.type === "timeZoneName")?.value ?? "";
    name = /^(GMT|UTC)[+-]/.test(tzName)
      ? ""
      : tzName === "GMT" && offsetMin === 0
      ? "UTC"
      : tzName;
  }
  const local = new Date(Math.floor(t.ms / 1000) * 1000 + offsetMin * 60000);
  const start = utcDate(local.getUTCFullYear(), 0, 1);
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    yday: Math.floor((local.getTime() - start) / 86400000) + 1,
    weekday: local.getUTCDay(),
    hour: local.getUTCHours(),
    min: local.getUTCMinutes(),
    sec: local.getUTCSeconds(),
    nanos: (((t.ms % 1000) + 1000) % 1000) * 1e6 + t.extraNanos,
    offset: offsetMin * 60,
    name,
  };
}

function pad(n: number, width: number): string {
  const s = String(Math.abs(n));
  const padded = s.length < width ? "0".repeat(width - s.length) + s : s;
  return n < 0 ? "-" + padded : padded;
}

/** One layout element: the literal text before it, its name ("2006", "Jan", "frac9"...) and the rest. */
export type Chunk = { prefix: string; std: string; suffix: string; digits?: number; sep?: string };

function isDigit(s: string, i: number): boolean {
  return i < s.length && s[i] >= "0" && s[i] <= "9";
}

/** Go's nextStdChunk: the first layout element of `layout`; `std` is "" when there is none. */
export function nextStdChunk(layout: string): Chunk {
  const at = (i: number, n: number, std: string): Chunk => ({
    prefix: layout.slice(0, i),
    std,
    suffix: layout.slice(i + n),
  });
  for (let i = 0; i < layout.length; i++) {
    const rest = layout.slice(i);
    switch (layout[i]) {
      case "J":
        if (rest.startsWith("January")) return at(i, 7, "January");
        if (rest.startsWith("Jan") && !/^[a-z]/.test(rest.slice(3))) return at(i, 3, "Jan");
        break;
      case "M":
        if (rest.startsWith("Monday")) return at(i, 6, "Monday");
        if (rest.startsWith("Mon") && !/^[a-z]/.test(rest.slice(3))) return at(i, 3, "Mon");
        if (rest.startsWith("MST")) return at(i, 3, "MST");
        break;
      case "0":
        if (rest.length >= 2 && rest[1] >= "1" && rest[1] <= "6") return at(i, 2, rest.slice(0, 2));
        if (rest.startsWith("002")) return at(i, 3, "002");
        break;
      case "1":
        if (rest.startsWith("15")) return at(i, 2, "15");
        return at(i, 1, "1");
      case "2":
        if (rest.startsWith("2006")) return at(i, 4, "2006");
        return at(i, 1, "2");
      case "_":
        if (rest.startsWith("_2")) {
          if (rest.startsWith("_2006")) {
            return { prefix: layout.slice(0, i + 1), std: "2006", suffix: rest.slice(5) };
          }
          return at(i, 2, "_2");
        }
        if (rest.startsWith("__2")) return at(i, 3, "__2");
        break;
      case "3":
      case "4":
      case "5":
        return at(i, 1, layout[i]);
      case "P":
        if (rest.startsWith("PM")) return at(i, 2, "PM");
        break;
      case "p":
        if (rest.startsWith("pm")) return at(i, 2, "pm");
        break;
      case "-":
      case "Z":
        for (const tz of ["070000", "07:00:00", "0700", "07:00", "07"]) {
          if (rest.startsWith(layout[i] + tz)) return at(i, tz.length + 1, layout[i] + tz);
        }
        break;
      case ".":
      case ",":
        if (rest[1] === "0" || rest[1] === "9") {
          let j = i + 1;
          while (j < layout.length && layout[j] === rest[1]) j++;
          if (!isDigit(layout, j)) {
            return {
              prefix: layout.slice(0, i),
              std: rest[1] === "0" ? "frac0" : "frac9",
              suffix: layout.slice(j),
              digits: j - (i + 1),
              sep: layout[i],
            };
          }
        }
        break;
    }
  }
  return { prefix: layout, std: "", suffix: "" };
}

function formatZone(std: string, offset: number): string {
  if (offset === 0 && std[0] === "Z") return "Z";
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const zone = Math.floor(abs / 60);
  let out = sign + pad(Math.floor(zone / 60), 2);
  const colon = std.includes(":");
  if (std !== "-07" && std !== "Z07") out += (colon ? ":" : "") + pad(zone % 60, 2);
  if (std.length === 7 || std.length === 9) out += (colon ? ":" : "") + pad(abs % 60, 2);
  return out;
}

/** Go's `Time.In(zone).Format(layout)`; unknown zones fall back to UTC as sprig does. */
export function formatTime(t: GoTime, layout: string, zone = "UTC"): string {
  const c = civil(t, zone);
  let out = "";
  while (layout !== "") {
    const chunk = nextStdChunk(layout);
    out += chunk.prefix;
    if (!chunk.std) break;
    layout = chunk.suffix;
    const hr12 = c.hour % 12 === 0 ? 12 : c.hour % 12;
    switch (chunk.std) {
      case "06":
        out += pad(Math.abs(c.year) % 100, 2);
        break;
      case "2006":
        out += pad(c.year, 4);
        break;
      case "Jan":
        out += MONTHS[c.month - 1].slice(0, 3);
        break;
      case "January":
        out += MONTHS[c.month - 1];
        break;
      case "1":
        out += c.month;
        break;
      case "01":
        out += pad(c.month, 2);
        break;
      case "Mon":
        out += DAYS[c.weekday].slice(0, 3);
        break;
      case "Monday":
        out += DAYS[c.weekday];
        break;
      case "2":
        out += c.day;
        break;
      case "_2":
        out += (c.day < 10 ? " " : "") + c.day;
        break;
      case "02":
        out += pad(c.day, 2);
        break;
      case "__2":
        out += (c.yday < 100 ? (c.yday < 10 ? "  " : " ") : "") + c.yday;
        break;
      case "002":
        out += pad(c.yday, 3);
        break;
      case "15":
        out += pad(c.hour, 2);
        break;
      case "3":
        out += hr12;
        break;
      case "03":
        out += pad(hr12, 2);
        break;
      case "4":
        out += c.min;
        break;
      case "04":
        out += pad(c.min, 2);
        break;
      case "5":
        out += c.sec;
        break;
      case "05":
        out += pad(c.sec, 2);
        break;
      case "PM":
        out += c.hour >= 12 ? "PM" : "AM";
        break;
      case "pm":
        out += c.hour >= 12 ? "pm" : "am";
        break;
      case "MST":
        if (c.name) out += c.name;
        else {
          const zone = Math.trunc(c.offset / 60);
          out += (zone < 0 ? "-" : "+") + pad(Math.floor(Math.abs(zone) / 60), 2) +
            pad(Math.abs(zone) % 60, 2);
        }
        break;
      case "frac0":
      case "frac9": {
        let digits = String(c.nanos).padStart(9, "0").slice(0, Math.min(chunk.digits!, 9));
        if (chunk.std === "frac9") digits = digits.replace(/0+$/, "");
        if (digits) out += chunk.sep + digits;
        break;
      }
      default:
        out += formatZone(chunk.std, c.offset);
    }
  }
  return out;
}

const processStart = performance.timeOrigin;

/** The current time, with a monotonic reading like Go's `time.Now()`. */
export function now(): GoTime {
  const ms = Date.now();
  const mono = (performance.timeOrigin + performance.now() - processStart) / 1000;
  return new GoTime(ms, 0, mono);
}

/** `time.Unix(sec, 0)`. */
export function unixTime(seconds: number): GoTime {
  return new GoTime(seconds * 1000);
}

/** Go's `Time.String()`. */
export function timeString(t: GoTime): string {
  let s = formatTime(t, "2006-01-02 15:04:05.999999999 -0700 MST", "Local");
  if (t.monotonic !== undefined) s += ` m=+${t.monotonic.toFixed(9)}`;
  return s;
}

setTimeString(timeString);
