/**
 * Choosing among an HTTPServer's certificates by the server name a client
 * asks for (SNI): exact names first as listed, `*.example.com` wildcards
 * for one label, and the first certificate when nothing matches.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";

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
 * certificate names `serverName`, else the first entry.
 */
export function certificatePicker<T extends { cert: string }>(
  entries: readonly T[],
): (serverName: string) => T {
  const named = entries.map((entry) => ({ names: certificateNames(entry.cert), entry }));
  return (serverName) => {
    const name = serverName.toLowerCase();
    for (const c of named) if (c.names.some((n) => nameMatches(n, name))) return c.entry;
    return entries[0];
  };
}
