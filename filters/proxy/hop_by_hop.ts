/**
 * Hop-by-hop headers: those that describe one connection, not the message,
 * and so must not be forwarded by a proxy (RFC 9110 section 7.6.1).
 *
 * @module
 */

/** The standard hop-by-hop header names, lower-case (the list Go's reverse proxy uses). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Whether `name` must not be forwarded: it is a standard hop-by-hop header, or
 * it is listed in the message's `Connection` header (`connectionHeader`, the
 * raw value or null). `name` may be in any case.
 */
export function isHopByHop(name: string, connectionHeader: string | null): boolean {
  const lower = name.toLowerCase();
  if (HOP_BY_HOP.has(lower)) return true;
  if (connectionHeader === null) return false;
  return connectionTokens(connectionHeader).includes(lower);
}

/** The lower-case, trimmed, non-empty tokens of a `Connection` header value. */
export function connectionTokens(value: string): string[] {
  const tokens: string[] = [];
  for (const part of value.split(",")) {
    const token = part.trim().toLowerCase();
    if (token !== "") tokens.push(token);
  }
  return tokens;
}

/**
 * The fields a gateway adds for its servers to learn the client, which a
 * client's `Connection` must not take away: listing them there hid the
 * client's address from the server (`Connection: X-Forwarded-For` dropped
 * the field an HTTPServer's `xForwardedFor` had set, and kept the Proxy from
 * adding one, since the request had it).
 */
const FORWARDED: ReadonlySet<string> = new Set([
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
]);

/**
 * The header names a `Connection` value asks to drop beyond the standard
 * list (never the X-Forwarded-* ones, see {@linkcode FORWARDED}), or null
 * when it names none (the usual `keep-alive` / `close`), so callers can skip
 * the per-header check in the common case.
 */
export function extraConnectionHeaders(value: string | null): Set<string> | null {
  if (value === null) return null;
  let extra: Set<string> | null = null;
  for (const token of connectionTokens(value)) {
    if (token === "close" || token === "keep-alive" || HOP_BY_HOP.has(token)) continue;
    if (FORWARDED.has(token)) continue;
    (extra ??= new Set()).add(token);
  }
  return extra;
}
