/**
 * A TLS client's certificates as filters see them (CertExtractor): the
 * subject and issuer names of each, leaf first, with Go's pkix.Name field
 * names, each field a list as in Go.
 *
 * @module
 */

import { certificateNames } from "./x509_name.ts";

/** The name fields CertExtractor reads, as Go's pkix.Name calls them. */
export const NAME_FIELDS = [
  "Country",
  "Organization",
  "OrganizationalUnit",
  "Locality",
  "Province",
  "StreetAddress",
  "PostalCode",
  "SerialNumber",
  "CommonName",
] as const;

/** One name field. */
export type NameField = typeof NAME_FIELDS[number];

/** A distinguished name: each field's values. */
export type CertificateName = Partial<Record<NameField, string[]>>;

/** One certificate of the chain. */
export interface PeerCertificate {
  subject: CertificateName;
  issuer: CertificateName;
}

/** node:tls's attribute keys for each field. */
const NODE_KEYS: Record<NameField, string> = {
  Country: "C",
  Organization: "O",
  OrganizationalUnit: "OU",
  Locality: "L",
  Province: "ST",
  StreetAddress: "street",
  PostalCode: "postalCode",
  SerialNumber: "serialNumber",
  CommonName: "CN",
};

function nameOf(node: unknown): CertificateName {
  const out: CertificateName = {};
  if (typeof node !== "object" || node === null) return out;
  const attributes = node as Record<string, unknown>;
  for (const field of NAME_FIELDS) {
    const value = attributes[NODE_KEYS[field]];
    if (typeof value === "string") out[field] = [value];
    else if (Array.isArray(value)) out[field] = value.map(String);
  }
  return out;
}

interface NodeCertificate {
  subject?: unknown;
  issuer?: unknown;
  raw?: Uint8Array;
  issuerCertificate?: NodeCertificate;
}

/**
 * The names of one node:tls certificate: read from its DER, as the
 * runtime's names lack StreetAddress, PostalCode and SerialNumber; from
 * the names where there is no DER to read.
 */
function namesOf(cert: NodeCertificate): PeerCertificate {
  if (cert.raw instanceof Uint8Array) {
    try {
      return certificateNames(cert.raw);
    } catch {
      // Not DER the reader knows: the runtime's names stand.
    }
  }
  return { subject: nameOf(cert.subject), issuer: nameOf(cert.issuer) };
}

/**
 * The chain of node:tls's `getPeerCertificate(true)` (each certificate
 * linking to its issuer, the root to itself), leaf first.
 */
export function peerCertificatesFromNode(leaf: unknown): PeerCertificate[] {
  const chain: PeerCertificate[] = [];
  const seen = new Set<unknown>();
  for (
    let cert = leaf as NodeCertificate | undefined;
    cert && typeof cert === "object" && cert.subject !== undefined && !seen.has(cert);
    cert = cert.issuerCertificate
  ) {
    seen.add(cert);
    chain.push(namesOf(cert));
  }
  return chain;
}

/** The part of a node:tls socket the client's certificates are read from. */
export interface PeerCertificateSource {
  getPeerCertificate?(detailed: true): unknown;
  _handle?: { getPeerCertificateChain?(): { certificates?: unknown[] } | undefined } | null;
}

/**
 * The certificates a TLS client sent, leaf first: Go's PeerCertificates,
 * which CertExtractor's certIndex counts in. node:tls completes
 * `getPeerCertificate(true)`'s chain with issuers from the server's CA list
 * (the root a client seldom sends), so the chain is cut to the count the
 * handshake carried.
 */
export function peerCertificatesFromSocket(socket: PeerCertificateSource): PeerCertificate[] {
  const chain = peerCertificatesFromNode(socket.getPeerCertificate?.(true));
  let sent: number | undefined;
  try {
    sent = socket._handle?.getPeerCertificateChain?.()?.certificates?.length;
  } catch {
    // No handshake chain to go by: the completed one stands.
  }
  return sent !== undefined && sent > 0 && sent < chain.length ? chain.slice(0, sent) : chain;
}
