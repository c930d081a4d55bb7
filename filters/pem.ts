/**
 * Certificates and keys as specs give them: PEM text, or PEM
 * encoded once more in base64 (as Easegress takes them).
 *
 * @module
 */

const decoder = new TextDecoder();

/** Decodes a PEM value given raw or base64-encoded (base64 tried first, like Easegress). */
export function decodePem(value: string): string {
  const trimmed = value.trim();
  if (trimmed.startsWith("-----BEGIN")) return trimmed + "\n";
  try {
    const bytes = Uint8Array.fromBase64(trimmed.replace(/\s+/g, ""));
    const text = decoder.decode(bytes).trim();
    if (text.startsWith("-----BEGIN")) return text + "\n";
  } catch { /* not base64: fall through */ }
  throw new TypeError("is neither PEM nor base64-encoded PEM");
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;
/** A key under a passphrase: PKCS #8 encrypted, or the traditional form's Proc-Type header. */
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: *4, *ENCRYPTED/m;

/**
 * What is wrong with `value` as a certificate chain or a private key in
 * PEM (raw or base64), or undefined when it looks right. Only the form is
 * checked here; `keyPairProblems` has the TLS library judge the contents.
 */
export function pemProblem(value: string, kind: "certificate" | "key"): string | undefined {
  let pem: string;
  try {
    pem = decodePem(value);
  } catch (e) {
    return (e as Error).message;
  }
  if (kind === "certificate" && !CERTIFICATE.test(pem)) {
    return "has no PEM CERTIFICATE block";
  }
  if (kind === "key" && !PRIVATE_KEY.test(pem)) return "has no PEM PRIVATE KEY block";
  if (kind === "key" && ENCRYPTED_KEY.test(pem)) {
    // The TLS library would only say it finds no key, or cannot decode it.
    return "is encrypted: give the key without its passphrase (openssl pkey -in key.pem)";
  }
  return undefined;
}

/** How the TLS library says a well-formed key is of a type or size it does not sign with. */
const UNSUPPORTED_KEY = /failed to parse private key as RSA, ECDSA, or EdDSA/;
const SIGNING_KEYS =
  "it takes RSA keys of 2048 bits or more, ECDSA keys on P-256, P-384 or P-521, and Ed25519 keys";

function formProblem(value: string, kind: "certificate" | "key"): string | undefined {
  return value === "" ? "is empty" : pemProblem(value, kind);
}

/**
 * What the TLS library's "UnsupportedCertVersion" means. Go, and so
 * Easegress, takes X.509 v1 certificates, which `openssl x509 -req` makes
 * when given no extensions: certificates that served there are refused here.
 */
const V1_HINT = " (an X.509 version 1 certificate: only version 3 ones are taken; " +
  "openssl x509 -req makes one given extensions, such as -extfile with subjectAltName=...)";

/**
 * What is wrong with a certificate chain and its private key as a pair,
 * each named by its spec field: the form of each (`pemProblem`), then
 * whether the TLS library takes them together (a readable certificate, a
 * key type it signs with, the key the certificate is for). The library is
 * the one the listeners use, asked through a client that is made and
 * dropped, so no socket is bound and nothing fails later at listen time.
 * Unset values (undefined) are skipped; an empty one is a problem, as a
 * listener could not start with it.
 */
export function keyPairProblems(
  certField: string,
  cert: string | undefined,
  keyField: string,
  key: string | undefined,
): [field: string, problem: string][] {
  const found: [string, string][] = [];
  const certProblem = cert === undefined ? undefined : formProblem(cert, "certificate");
  const keyProblem = key === undefined ? undefined : formProblem(key, "key");
  if (certProblem !== undefined) found.push([certField, certProblem]);
  if (keyProblem !== undefined) found.push([keyField, keyProblem]);
  if (!cert || !key || certProblem !== undefined || keyProblem !== undefined) return found;
  try {
    Deno.createHttpClient({ cert: decodePem(cert), key: decodePem(key) }).close();
  } catch (e) {
    const message = (e as Error).message;
    if (message.includes("KeyMismatch")) {
      found.push([keyField, `is not the key of the certificate in ${certField}`]);
    } else if (UNSUPPORTED_KEY.test(message)) {
      // The library's words suggest a damaged file, where it is most often a
      // key it does not sign with: RSA under 2048 bits, DSA, another curve.
      found.push([keyField, `is refused by the TLS library: ${message} (${SIGNING_KEYS})`]);
    } else {
      found.push([
        /certificate/i.test(message) ? certField : keyField,
        `is refused by the TLS library: ${message}${
          message.includes("UnsupportedCertVersion") ? V1_HINT : ""
        }`,
      ]);
    }
  }
  return found;
}
