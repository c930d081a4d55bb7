/**
 * IP addresses as numbers: what IP filters and socket lookups compare.
 *
 * @module
 */

/**
 * A decimal IPv4 part without leading zeros: as Go's ParseIP (since Go
 * 1.17), "010" is refused, being 8 to inet_aton and 10 to others.
 */
const IPV4_PART = /^(?:0|[1-9]\d{0,2})$/;

/** Parses an IPv4/IPv6 address into its bits; undefined when malformed. */
export function parseIP(text: string): { v6: boolean; bits: bigint } | undefined {
  if (text.includes(":")) return parseIPv6(text);
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let bits = 0n;
  for (const p of parts) {
    if (!IPV4_PART.test(p) || Number(p) > 255) return undefined;
    bits = (bits << 8n) | BigInt(Number(p));
  }
  return { v6: false, bits };
}

/** The IPv4-mapped prefix ::ffff:0:0/96, shifted down past its IPv4 part. */
const MAPPED_PREFIX = 0xffffn;

function parseIPv6(text: string): { v6: boolean; bits: bigint } | undefined {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  // As Go's ParseIP, the last 32 bits may be written as a dotted IPv4 address
  // (::ffff:1.2.3.4, 64:ff9b::1.2.3.4): it stands for two groups.
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.indexOf(".", lastColon) >= 0) {
    const v4 = parseIP(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tailV4 = v4.bits;
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let bits = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    bits = (bits << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) bits |= tailV4;
  // An IPv4-mapped address is that IPv4 address however it is spelled
  // (::ffff:1.2.3.4, ::ffff:102:304, 0:0:0:0:0:ffff:102:304), as Go's To4
  // takes it: else a client could name a blocked IPv4 address in hex and
  // pass an ipFilter listing it.
  if (bits >> 32n === MAPPED_PREFIX) return { v6: false, bits: bits & 0xffffffffn };
  return { v6: true, bits };
}

/** `host:port`, with an IPv6 address in brackets (as Go's net.JoinHostPort writes it). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The host of an address "host:port" or "[host]:port" (as joinHostPort writes them); "" for none. */
export function hostOfAddr(addr: string): string {
  if (addr.charCodeAt(0) === 91) { // "["
    const end = addr.indexOf("]");
    return end < 0 ? "" : addr.slice(1, end);
  }
  const colon = addr.lastIndexOf(":");
  return colon < 0 ? addr : addr.slice(0, colon);
}
