/**
 * Certificates and keys as an HTTPServer spec gives them: PEM text, or PEM
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
    const bytes = Uint8Array.from(atob(trimmed.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    const text = decoder.decode(bytes).trim();
    if (text.startsWith("-----BEGIN")) return text + "\n";
  } catch { /* not base64: fall through */ }
  throw new TypeError("is neither PEM nor base64-encoded PEM");
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

/**
 * What is wrong with `value` as a certificate chain or a private key in
 * PEM (raw or base64), or undefined when it looks right. Only the form is
 * checked here; the TLS library judges the contents when the listener
 * starts.
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
  return undefined;
}
