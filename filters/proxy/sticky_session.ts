/**
 * Sticky sessions of a pool's load balancer (`loadBalance.stickySession`,
 * as Easegress v2.x has them): a request carrying the session's cookie goes
 * to the server it went to before, while that server is in the pool and
 * healthy; otherwise the pool's policy picks one.
 *
 * - `CookieConsistentHash`: the value of the application's cookie
 *   (`appCookieName`) is hashed onto a ring of the servers, so a session
 *   moves only when its server leaves.
 * - `DurationBased`: every response sets the balancer's cookie
 *   (`lbCookieName`, expiring after `lbCookieExpire`) naming its server.
 * - `ApplicationBased`: the same cookie, set on responses that set the
 *   application's cookie.
 *
 * The balancer's cookie is Easegress's: 8 random bytes and their HMAC-SHA256
 * of the server's URL, in hex; no server's URL can be read from it, and a
 * cookie written by Easegress finds the same server here.
 *
 * @module
 */

import { createHmac, randomFillSync, timingSafeEqual } from "node:crypto";
import type { HttpRequest, HttpResponse } from "../context.ts";
import { parseDuration, type SpecReader } from "../spec.ts";
import { requestCookie } from "../go_cookies.ts";

/** A normalized `stickySession`. */
export interface StickySessionSpec {
  mode: "CookieConsistentHash" | "DurationBased" | "ApplicationBased";
  /** The application's cookie (CookieConsistentHash, ApplicationBased). */
  appCookieName?: string;
  /** The balancer's cookie (DurationBased, ApplicationBased). */
  lbCookieName?: string;
  /** How long the balancer's cookie lives. @default {"2h"} */
  lbCookieExpire?: string;
}

const MODES = ["CookieConsistentHash", "DurationBased", "ApplicationBased"] as const;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Reads a `stickySession` spec. */
export function readStickySession(r: SpecReader): StickySessionSpec {
  const mode = r.string("mode", { required: true, oneOf: MODES }) as StickySessionSpec["mode"];
  const spec: StickySessionSpec = { mode };
  const cookie = (field: "appCookieName" | "lbCookieName", needed: boolean) => {
    const name = r.string(field, {
      pattern: COOKIE_NAME,
      patternName: "a cookie name (letters, digits and !#$%&'*+-.^_`|~)",
    });
    if (name) spec[field] = name;
    else if (needed) r.problem(field, `is required by mode ${mode}`);
  };
  cookie("appCookieName", mode === "CookieConsistentHash" || mode === "ApplicationBased");
  cookie("lbCookieName", mode === "DurationBased" || mode === "ApplicationBased");
  const expire = r.duration("lbCookieExpire");
  if (expire) spec.lbCookieExpire = expire;
  return spec;
}

/** What a sticker knows of a server: its URL, as Easegress names servers. */
export interface StickyServer {
  readonly url: string;
}

const KEY_BYTES = 8;
const MAC_BYTES = 32;
const DEFAULT_EXPIRE_MS = 2 * 60 * 60 * 1000;
/** Points per server on the hash ring: enough to spread sessions evenly over a few servers. */
const RING_POINTS = 160;

/** The sticky-session side of a pool's load balancer. */
export class SessionSticker {
  readonly #spec: StickySessionSpec;
  readonly #expireMs: number;
  /** The hash ring (CookieConsistentHash): sorted points and the server index at each. */
  #ringPoints = new Uint32Array(0);
  #ringServers = new Uint32Array(0);

  constructor(spec: StickySessionSpec) {
    this.#spec = spec;
    const expire = spec.lbCookieExpire ? parseDuration(spec.lbCookieExpire) ?? 0 : 0;
    this.#expireMs = expire > 0 ? expire : DEFAULT_EXPIRE_MS;
  }

  /** Takes the servers requests are picked from now (healthy ones, in pool order). */
  update(servers: readonly StickyServer[]): void {
    if (this.#spec.mode !== "CookieConsistentHash") return;
    const points: [number, number][] = [];
    servers.forEach((s, index) => {
      for (let i = 0; i < RING_POINTS; i++) points.push([ringHash(`${s.url}#${i}`), index]);
    });
    points.sort((a, b) => a[0] - b[0]);
    this.#ringPoints = Uint32Array.from(points, (p) => p[0]);
    this.#ringServers = Uint32Array.from(points, (p) => p[1]);
  }

  /** The index in `servers` the request's session sticks to, or -1 to let the policy pick. */
  pick(request: HttpRequest, servers: readonly StickyServer[]): number {
    const cookies = request.cookieHeader();
    if (cookies === null) return -1;
    const spec = this.#spec;
    if (spec.mode === "CookieConsistentHash") {
      const value = requestCookie(cookies, spec.appCookieName!);
      return value === "" ? -1 : this.#onRing(ringHash(value));
    }
    const value = requestCookie(cookies, spec.lbCookieName!);
    return value === "" ? -1 : signedServer(value, servers);
  }

  /** Sets the balancer's cookie on `response` when the mode asks for it. */
  stamp(server: StickyServer, response: HttpResponse): void {
    const spec = this.#spec;
    if (spec.mode === "CookieConsistentHash") return;
    if (spec.mode === "ApplicationBased" && !setsCookie(response, spec.appCookieName!)) return;
    const expires = new Date(Date.now() + this.#expireMs).toUTCString();
    // Path=/ so the session holds across the site (Easegress's cookie has no
    // Path, so browsers kept it to the directory of the first request).
    response.headers.append(
      "set-cookie",
      `${spec.lbCookieName}=${sign(server.url)}; Path=/; Expires=${expires}`,
    );
  }

  #onRing(hash: number): number {
    const points = this.#ringPoints;
    if (points.length === 0) return -1;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.#ringServers[lo === points.length ? 0 : lo];
  }
}

/** Whether the response sets cookie `name`. */
function setsCookie(response: HttpResponse, name: string): boolean {
  for (const cookie of response.rawHeaders.getSetCookie()) {
    const eq = cookie.indexOf("=");
    if (eq > 0 && cookie.slice(0, eq).trim() === name) return true;
  }
  return false;
}

/** Easegress's balancer cookie for `url`: a random key and the key's HMAC of the URL, in hex. */
export function sign(url: string): string {
  const key = randomFillSync(new Uint8Array(KEY_BYTES));
  const mac = createHmac("sha256", key).update(url).digest();
  return Uint8Array.from([...key, ...mac]).toHex();
}

/** The index of the server whose URL `value` was signed for, or -1. */
function signedServer(value: string, servers: readonly StickyServer[]): number {
  if (value.length !== (KEY_BYTES + MAC_BYTES) * 2) return -1;
  let signed: Uint8Array;
  try {
    signed = Uint8Array.fromHex(value);
  } catch {
    return -1;
  }
  const key = signed.subarray(0, KEY_BYTES);
  const mac = signed.subarray(KEY_BYTES);
  for (let i = 0; i < servers.length; i++) {
    const expected = createHmac("sha256", key).update(servers[i].url).digest();
    if (timingSafeEqual(expected, mac)) return i;
  }
  return -1;
}

/**
 * FNV-1a 32-bit of a string's UTF-16 code units, then murmur3's finalizer:
 * ring points of one server differ in their last characters only, which
 * FNV alone leaves close together.
 */
function ringHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
