/**
 * When a server's certificates are valid, read from their DER without
 * node:crypto (which costs an idle node memory): a server keeps serving an
 * expired certificate, as Easegress does, but says so in its status.
 *
 * @module
 */

/** A certificate's validity period, in ms since the epoch. */
export interface Validity {
  notBefore: number;
  notAfter: number;
}

interface Tlv {
  tag: number;
  /** Where its content starts and ends. */
  start: number;
  end: number;
}

function tlvAt(der: Uint8Array, at: number): Tlv {
  if (at + 2 > der.length) throw new RangeError("truncated");
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4) throw new RangeError("bad length");
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[start + i];
    start += octets;
  }
  const end = start + length;
  if (end > der.length) throw new RangeError("truncated");
  return { tag, start, end };
}

const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/** A UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280 writes them. */
function timeOf(der: Uint8Array, tlv: Tlv): number {
  const text = new TextDecoder().decode(der.subarray(tlv.start, tlv.end));
  let full: string;
  if (tlv.tag === UTC_TIME && /^\d{12}Z$/.test(text)) {
    // RFC 5280 section 4.1.2.5.1: 50 to 99 are 19xx.
    full = (Number(text.slice(0, 2)) >= 50 ? "19" : "20") + text;
  } else if (tlv.tag === GENERALIZED_TIME && /^\d{14}Z$/.test(text)) full = text;
  else throw new RangeError("bad time");
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((i, n) =>
    Number(full.slice(i, n === 0 ? 4 : i + 2))
  );
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** The validity of the first certificate of a PEM chain, or undefined when it cannot be read. */
export function certificateValidity(pem: string): Validity | undefined {
  const block = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(pem);
  if (!block) return undefined;
  try {
    const der = Uint8Array.fromBase64(block[1].replace(/\s+/g, ""));
    const tbs = tlvAt(der, tlvAt(der, 0).start);
    let at = tbs.start;
    // The optional [0] version, then the serial number, signature algorithm and issuer.
    if (der[at] === 0xa0) at = tlvAt(der, at).end;
    for (let i = 0; i < 3; i++) at = tlvAt(der, at).end;
    const validity = tlvAt(der, at);
    const notBefore = tlvAt(der, validity.start);
    const notAfter = tlvAt(der, notBefore.end);
    return { notBefore: timeOf(der, notBefore), notAfter: timeOf(der, notAfter) };
  } catch {
    return undefined;
  }
}

/**
 * What is wrong at `now` with the validity of certificates named by their
 * spec field, or "" when all are valid: the first that has expired or is
 * not valid yet.
 */
export function validityProblem(
  certificates: readonly { field: string; validity: Validity | undefined }[],
  now: number,
): string {
  for (const { field, validity } of certificates) {
    if (validity === undefined) continue;
    if (now > validity.notAfter) {
      return `${field}: the certificate expired at ${
        new Date(validity.notAfter).toISOString()
      }; clients refuse it`;
    }
    if (now < validity.notBefore) {
      return `${field}: the certificate is not valid before ${
        new Date(validity.notBefore).toISOString()
      }; clients refuse it`;
    }
  }
  return "";
}
