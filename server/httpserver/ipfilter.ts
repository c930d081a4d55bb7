/**
 * IP allow/block lists (IPs or CIDRs, v4 and v6) as Easegress's ipFilter.
 *
 * @module
 */

import type { SpecReader } from "../../filters/spec.ts";
import { parseIP } from "../../filters/ip_address.ts";

/** An ipFilter spec. */
export interface IPFilterSpec {
  blockByDefault?: boolean;
  allowIPs?: string[];
  blockIPs?: string[];
}

/** Reads an ipFilter spec, checking every address. */
export function readIPFilter(r: SpecReader): IPFilterSpec {
  const spec: IPFilterSpec = {};
  if (r.has("blockByDefault")) spec.blockByDefault = r.bool("blockByDefault", false);
  for (const field of ["allowIPs", "blockIPs"] as const) {
    const list = r.stringArray(field);
    if (!list) continue;
    list.forEach((ip, i) => {
      if (!parseCidr(ip)) r.problem(`${field}[${i}]`, `"${ip}" is not an IP address or CIDR`);
    });
    spec[field] = list;
  }
  return spec;
}

interface Cidr {
  v6: boolean;
  bits: bigint;
  prefix: number;
}

/** A CIDR's prefix length as Go's ParseCIDR reads it: decimal digits and nothing else. */
const PREFIX_LENGTH = /^\d+$/;

function parseCidr(text: string): Cidr | undefined {
  // A zone (fe80::1%eth0) names an interface of one host, not addresses:
  // Go's ParseIP and ParseCIDR refuse it, where parseIP drops it.
  if (text.includes("%")) return undefined;
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  let ip = parseIP(address);
  if (!ip) return undefined;
  // An IPv4-mapped address written as IPv6 counts its prefix over 128 bits.
  const mapped = !ip.v6 && address.includes(":");
  const width = ip.v6 || mapped ? 128 : 32;
  // Number() would read "" (a trailing "/") as 0, a CIDR holding every address,
  // and "0x8", "1e1" or " 8" as lengths Go refuses.
  const length = slash < 0 ? String(width) : text.slice(slash + 1);
  if (!PREFIX_LENGTH.test(length)) return undefined;
  let prefix = Number(length);
  if (prefix > width) return undefined;
  if (mapped) {
    // ::ffff:10.0.0.0/104 is 10.0.0.0/8, as Go's IPNet.Contains reads it; a
    // shorter prefix is the IPv6 range around the mapped block.
    if (prefix >= 96) prefix -= 96;
    else ip = { v6: true, bits: (0xffffn << 32n) | ip.bits };
  }
  const shift = BigInt((ip.v6 ? 128 : 32) - prefix);
  return { v6: ip.v6, bits: (ip.bits >> shift) << shift, prefix };
}

function contains(list: Cidr[], ip: { v6: boolean; bits: bigint }): boolean {
  for (const c of list) {
    if (c.v6 !== ip.v6) continue;
    const shift = BigInt((c.v6 ? 128 : 32) - c.prefix);
    if ((ip.bits >> shift) << shift === c.bits) return true;
  }
  return false;
}

/** A compiled ipFilter; `allow(ip)` answers per Easegress's rules, with a small cache. */
export class IPFilter {
  readonly #allow: Cidr[];
  readonly #block: Cidr[];
  readonly #default: boolean;
  readonly #cache = new Map<string, boolean>();

  constructor(spec: IPFilterSpec) {
    this.#allow = (spec.allowIPs ?? []).map((s) => parseCidr(s)!);
    this.#block = (spec.blockIPs ?? []).map((s) => parseCidr(s)!);
    this.#default = !spec.blockByDefault;
  }

  /**
   * Whether `ip` may pass: an address `allowIPs` (when not empty) leaves out,
   * no; listed only in allow, yes; only in block, no; else the default
   * (an address that does not parse too).
   */
  allow(ip: string): boolean {
    const cached = this.#cache.get(ip);
    if (cached !== undefined) return cached;
    const parsed = parseIP(ip);
    let verdict = this.#default;
    if (parsed) {
      const allowed = contains(this.#allow, parsed);
      const blocked = contains(this.#block, parsed);
      // As Easegress's ipfilter: a non-empty allow list admits no other
      // address, whatever blockByDefault says.
      if (!allowed && this.#allow.length) verdict = false;
      else if (allowed && !blocked) verdict = true;
      else if (blocked && !allowed) verdict = false;
    }
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(ip, verdict);
    return verdict;
  }
}

/** Whether an IP is public (not loopback, private, link-local or unspecified). */
export function isPublicIP(ip: string): boolean {
  const p = parseIP(ip);
  if (!p) return false;
  if (!p.v6) {
    const a = Number(p.bits >> 24n), b = Number((p.bits >> 16n) & 255n);
    return !(a === 10 || a === 127 || a === 0 || (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b < 128));
  }
  const top = Number(p.bits >> 112n);
  return !(p.bits <= 1n || (top & 0xfe00) === 0xfc00 || (top & 0xffc0) === 0xfe80);
}
