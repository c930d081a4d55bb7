/**
 * The host part of a Host field or :authority, as routing and certificate
 * choice compare it.
 *
 * @module
 */

const OPEN_BRACKET = 91;

/**
 * `host` (a Host or :authority) as a URL's authority: an IPv6 address
 * without brackets ("::1") gets them, as no URL takes it bare.
 */
export function urlAuthority(host: string): string {
  const colon = host.indexOf(":");
  return colon >= 0 && host.indexOf(":", colon + 1) >= 0 && host.charCodeAt(0) !== OPEN_BRACKET
    ? `[${host}]`
    : host;
}

/**
 * `host` without its port and without the brackets of an IPv6 literal:
 * "[::1]:8080" and "[::1]" give "::1", "a.com:80" gives "a.com". A host with
 * two colons or more outside brackets ("::1") is an IPv6 address with no
 * port to take off, and is kept whole.
 */
export function hostWithoutPort(host: string): string {
  if (host.charCodeAt(0) === OPEN_BRACKET) {
    const end = host.indexOf("]");
    return end < 0 ? host : host.slice(1, end);
  }
  const colon = host.indexOf(":");
  return colon < 0 || host.indexOf(":", colon + 1) >= 0 ? host : host.slice(0, colon);
}
