/**
 * The subject and issuer names of an X.509 certificate, read from its DER
 * as Go's `pkix.Name.FillFromRDNSequence` reads them: the attributes of type
 * 2.5.4.x with a string value, CommonName and SerialNumber the last of
 * theirs, the others every value in order. The runtime's node:tls leaves
 * StreetAddress, PostalCode and SerialNumber out of its names, so
 * CertExtractor reads them here.
 *
 * @module
 */

import type { CertificateName, NameField } from "./peer_certificate.ts";

const SEQUENCE = 0x30;
const SET = 0x31;
const OID = 0x06;
/** `[0]` constructed: a certificate's explicit version. */
const CONTEXT_0 = 0xa0;

/** The field of each 2.5.4.x attribute, by x. */
const FIELD_OF: Record<number, NameField> = {
  3: "CommonName",
  5: "SerialNumber",
  6: "Country",
  7: "Locality",
  8: "Province",
  9: "StreetAddress",
  10: "Organization",
  11: "OrganizationalUnit",
  17: "PostalCode",
};

/** Fields Go keeps one value of (the last). */
const SINGLE: ReadonlySet<NameField> = new Set(["CommonName", "SerialNumber"]);

const utf8 = new TextDecoder("utf-8");
const latin1 = new TextDecoder("latin1");
const utf16be = new TextDecoder("utf-16be");

/**
 * The string types Go's asn1 reads into a string, with their decoders. Go
 * takes a T61String's bytes as they are, which UTF-8 text keeps.
 */
const STRING_DECODERS: Record<number, TextDecoder> = {
  0x0c: utf8, // UTF8String
  0x12: latin1, // NumericString
  0x13: latin1, // PrintableString
  0x14: utf8, // T61String
  0x16: latin1, // IA5String
  0x1e: utf16be, // BMPString
};

/** One DER element of `der` at `at`: its tag and where its contents are. */
interface Element {
  tag: number;
  start: number;
  end: number;
}

function elementAt(der: Uint8Array, at: number, limit: number): Element {
  if (at + 2 > limit) throw new RangeError("truncated DER");
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length >= 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) throw new RangeError("bad DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i];
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new RangeError("truncated DER");
  return { tag, start, end };
}

/** The elements inside `parent`, in order. */
function childrenOf(der: Uint8Array, parent: Element): Element[] {
  const children: Element[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = elementAt(der, at, parent.end);
    children.push(child);
    at = child.end;
  }
  return children;
}

function expect(element: Element | undefined, tag: number): Element {
  if (element?.tag !== tag) throw new RangeError("not an X.509 certificate");
  return element;
}

/** The field an attribute type names, for an OID 2.5.4.x. */
function fieldOf(der: Uint8Array, oid: Element): NameField | undefined {
  // 2.5.4 is the byte 0x55 then 0x04; x below 128 is one more byte.
  if (oid.end - oid.start !== 3 || der[oid.start] !== 0x55 || der[oid.start + 1] !== 0x04) {
    return undefined;
  }
  return FIELD_OF[der[oid.start + 2]];
}

function nameOf(der: Uint8Array, name: Element | undefined): CertificateName {
  const out: CertificateName = {};
  for (const rdn of childrenOf(der, expect(name, SEQUENCE))) {
    for (const attribute of childrenOf(der, expect(rdn, SET))) {
      const [type, value] = childrenOf(der, expect(attribute, SEQUENCE));
      const field = fieldOf(der, expect(type, OID));
      const decoder = value && STRING_DECODERS[value.tag];
      if (field === undefined || decoder === undefined) continue;
      const text = decoder.decode(der.subarray(value.start, value.end));
      if (SINGLE.has(field)) out[field] = [text];
      else (out[field] ??= []).push(text);
    }
  }
  return out;
}

/**
 * The subject and issuer of the DER certificate `der`; throws a RangeError
 * when it is not one.
 */
export function certificateNames(
  der: Uint8Array,
): { subject: CertificateName; issuer: CertificateName } {
  const certificate = expect(elementAt(der, 0, der.length), SEQUENCE);
  const tbs = childrenOf(der, expect(childrenOf(der, certificate)[0], SEQUENCE));
  // version [0] (optional), serialNumber, signature, issuer, validity, subject
  const first = tbs[0]?.tag === CONTEXT_0 ? 1 : 0;
  return { issuer: nameOf(der, tbs[first + 2]), subject: nameOf(der, tbs[first + 4]) };
}
