/**
 * What AutoCertManager keeps in the store (shared by a cluster's members)
 * and what data planes are given of it: the certificates obtained, by
 * domain, and the HTTP-01 challenge answers being judged, by token.
 *
 * @module
 */

import type { KeyValue } from "../../cluster/store.ts";

/** Store keys of the certificates, challenges and ACME accounts. */
export const autoCertKeys = {
  prefix: "/autocert/",
  certPrefix: "/autocert/certs/",
  cert: (domain: string) => `/autocert/certs/${domain}`,
  challengePrefix: "/autocert/challenges/",
  challenge: (token: string) => `/autocert/challenges/${token}`,
  account: (manager: string) => `/autocert/accounts/${manager}`,
} as const;

/** A certificate as stored under {@linkcode autoCertKeys.cert}. */
export interface StoredCertificate {
  /** The PEM chain, leaf first. */
  cert: string;
  /** Its PEM private key (PKCS #8). */
  key: string;
  /** When the leaf expires, ISO 8601. */
  notAfter: string;
  /** When it was obtained, ISO 8601. */
  obtained: string;
  /** The ACME directory it came from (absent in records written before it was kept). */
  directoryURL?: string;
}

/** What data planes serve of the managed certificates. */
export interface AutoCertState {
  /** Certificate and key PEM by domain. */
  certs: Record<string, { cert: string; key: string }>;
  /** The answer to `/.well-known/acme-challenge/<token>`, by token. */
  challenges: Record<string, string>;
}

/** An empty state: no certificates, no challenges. */
export function emptyAutoCertState(): AutoCertState {
  return { certs: {}, challenges: {} };
}

/** The state held by the store keys under {@linkcode autoCertKeys.prefix}; unreadable entries are skipped. */
export function readAutoCertState(stored: readonly KeyValue[]): AutoCertState {
  const state = emptyAutoCertState();
  for (const { key, value } of stored) {
    if (key.startsWith(autoCertKeys.challengePrefix)) {
      state.challenges[key.slice(autoCertKeys.challengePrefix.length)] = value;
    } else if (key.startsWith(autoCertKeys.certPrefix)) {
      try {
        const { cert, key: privateKey } = JSON.parse(value) as StoredCertificate;
        if (typeof cert === "string" && typeof privateKey === "string") {
          state.certs[key.slice(autoCertKeys.certPrefix.length)] = { cert, key: privateKey };
        }
      } catch { /* a damaged entry is obtained again by the manager */ }
    }
  }
  return state;
}

/** The path prefix of HTTP-01 challenge requests (RFC 8555 section 8.3). */
export const CHALLENGE_PATH = "/.well-known/acme-challenge/";
