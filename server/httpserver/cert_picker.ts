/**
 * Choosing among an HTTPServer's certificates by the server name a client
 * asks for (SNI): exact names first as listed, `*.example.com` wildcards
 * for one label, and the first certificate when nothing matches.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { hostWithoutPort } from "./host_name.ts";

/** The DNS names a PEM certificate is for (subject CN and SAN DNS entries). */
export function certificateNames(pem: string): string[] {
  try {
    const cert = new X509Certificate(pem);
    const names = new Set<string>();
    for (const part of (cert.subjectAltName ?? "").split(",")) {
      const m = /^\s*DNS:(.+)$/.exec(part);
      if (m) names.add(m[1].trim().toLowerCase());
    }
    const cn = /CN=([^\n,]+)/.exec(cert.subject);
    if (cn) names.add(cn[1].trim().toLowerCase());
    return [...names];
  } catch {
    return [];
  }
}

function nameMatches(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  if (pattern.startsWith("*.")) {
    const dot = name.indexOf(".");
    return dot > 0 && name.slice(dot) === pattern.slice(1);
  }
  return false;
}

/**
 * A picker over `entries` (each with its PEM certificate): the first whose
 * certificate has `serverName` itself among its names, else the first
 * whose wildcard covers it, else the first entry. A certificate made for
 * a host is chosen over a wildcard one listed before it, as nginx and
 * Go's NameToCertificate choose.
 */
export function certificatePicker<T extends { cert: string }>(
  entries: readonly T[],
): (serverName: string) => T {
  const named = entries.map((entry) => ({ names: certificateNames(entry.cert), entry }));
  return (serverName) => {
    const name = serverName.toLowerCase();
    for (const c of named) if (c.names.includes(name)) return c.entry;
    for (const c of named) if (c.names.some((n) => nameMatches(n, name))) return c.entry;
    return entries[0];
  };
}

/**
 * Whether a PEM certificate is valid for a request's host (a DNS name, with
 * `*.` wildcards for one label, or an IP address), compared without its port.
 */
export function certificateCovers(pem: string): (host: string) => boolean {
  const names = certificateNames(pem);
  const ips = new Set<string>();
  try {
    for (const part of (new X509Certificate(pem).subjectAltName ?? "").split(",")) {
      const m = /^\s*IP Address:(.+)$/.exec(part);
      if (m) ips.add(m[1].trim().toLowerCase());
    }
  } catch { /* no names */ }
  // Hosts repeat: each is matched once (a bounded memo, cleared when full).
  const seen = new Map<string, boolean>();
  return (host) => {
    let covered = seen.get(host);
    if (covered === undefined) {
      const name = hostWithoutPort(host).toLowerCase();
      covered = ips.has(name) || names.some((n) => nameMatches(n, name));
      if (seen.size >= 1024) seen.clear();
      seen.set(host, covered);
    }
    return covered;
  };
}
