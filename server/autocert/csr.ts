/**
 * A PKCS #10 certificate signing request (RFC 2986) for an ECDSA P-256 key,
 * in DER: what an ACME order is finalized with. Only the few DER shapes a
 * request needs are written here.
 *
 * @module
 */

import { concatBytes } from "../../filters/concat_bytes.ts";

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OID = 0x06;
const UTF8_STRING = 0x0c;
/** `[0]` constructed: the request's attributes. */
const CONTEXT_0 = 0xa0;
/** `[2]` primitive: a dNSName in GeneralNames. */
const DNS_NAME = 0x82;

const OID_COMMON_NAME = "2.5.4.3";
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_SUBJECT_ALT_NAME = "2.5.29.17";
const OID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";

/** One DER element: tag, definite length, contents. */
function der(tag: number, ...contents: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const body = concatBytes(contents);
  const n = body.length;
  const length = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concatBytes([Uint8Array.of(tag, ...length), body]);
}

function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const bytes = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) {
      base128.unshift((rest & 0x7f) | 0x80);
    }
    bytes.push(...base128);
  }
  return der(OID, Uint8Array.from(bytes));
}

/** An unsigned big-endian integer as DER INTEGER (minimal, with a sign byte when needed). */
function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return trimmed[0] & 0x80 ? der(INTEGER, Uint8Array.of(0), trimmed) : der(INTEGER, trimmed);
}

const text = new TextEncoder();

/**
 * WebCrypto's ECDSA signature (r and s side by side, fixed width) as the
 * DER `Ecdsa-Sig-Value` X.509 structures carry.
 */
export function ecdsaSignatureToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return der(SEQUENCE, unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)));
}

/**
 * A DER certificate signing request for `names` (the first is the subject's
 * common name, all are subject alternative names), signed with `keys`
 * (ECDSA P-256).
 */
export async function certificateRequest(
  names: readonly string[],
  keys: CryptoKeyPair,
): Promise<Uint8Array> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const subject = der(
    SEQUENCE,
    der(SET, der(SEQUENCE, oid(OID_COMMON_NAME), der(UTF8_STRING, text.encode(names[0])))),
  );
  const altNames = der(SEQUENCE, ...names.map((name) => der(DNS_NAME, text.encode(name))));
  const extensions = der(
    SEQUENCE,
    der(SEQUENCE, oid(OID_SUBJECT_ALT_NAME), der(OCTET_STRING, altNames)),
  );
  const attributes = der(
    CONTEXT_0,
    der(SEQUENCE, oid(OID_EXTENSION_REQUEST), der(SET, extensions)),
  );
  const info = der(SEQUENCE, der(INTEGER, Uint8Array.of(0)), subject, spki, attributes);
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, info),
  );
  return der(
    SEQUENCE,
    info,
    der(SEQUENCE, oid(OID_ECDSA_WITH_SHA256)),
    der(BIT_STRING, Uint8Array.of(0), ecdsaSignatureToDer(signature)),
  );
}
