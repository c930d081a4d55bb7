/**
 * Throwaway self-signed server certificates for tests and benchmarks, made
 * with openssl: a P-256 key, valid for two days, with the names and
 * addresses asked for in subjectAltName.
 *
 * Each one is an end-entity certificate (`CA:FALSE`, `serverAuth`): rustls,
 * behind Deno's fetch and `Deno.serve`, refuses a CA certificate as a
 * server's own. OpenSSL-based clients (curl, gtlsclient) accept it as its
 * own trust anchor.
 *
 * @module
 */

/** What to put in the certificate. At least one name or address is needed. */
export interface SelfSignedCertOptions {
  /** DNS names for subjectAltName; the first is also the subject's CN. @default {[]} */
  names?: readonly string[];
  /** IP addresses for subjectAltName; the first is the CN when there are no names. @default {[]} */
  ipAddresses?: readonly string[];
  /**
   * The folder to write `cert.pem` and `key.pem` into, which the caller
   * owns. @default {a new temporary folder, which the caller removes}
   */
  dir?: string;
}

/** A self-signed certificate and its key, as PEM text and as files. */
export interface SelfSignedCert {
  /** The certificate, PEM. */
  cert: string;
  /** The private key, PEM (unencrypted). */
  key: string;
  /** Path of the certificate file. */
  certFile: string;
  /** Path of the key file. */
  keyFile: string;
  /** The folder holding both files. */
  dir: string;
}

/**
 * Makes a self-signed certificate with openssl. Throws naming the Debian
 * package when openssl is missing, and with openssl's output when it fails;
 * a temporary folder it made is removed then.
 *
 * @example
 * ```ts
 * const tls = await makeSelfSignedCert({ names: ["localhost"], ipAddresses: ["127.0.0.1"] });
 * try {
 *   // Deno.serve({ cert: tls.cert, key: tls.key, ... })
 * } finally {
 *   await Deno.remove(tls.dir, { recursive: true });
 * }
 * ```
 */
export async function makeSelfSignedCert(options: SelfSignedCertOptions): Promise<SelfSignedCert> {
  const { names = [], ipAddresses = [] } = options;
  const subject = names[0] ?? ipAddresses[0];
  if (subject === undefined) {
    throw new TypeError("Cannot make a certificate: no names or ipAddresses given");
  }
  const altNames = [...names.map((n) => `DNS:${n}`), ...ipAddresses.map((ip) => `IP:${ip}`)];
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "self-signed-cert-" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  try {
    await openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      `/CN=${subject}`,
      "-addext",
      `subjectAltName=${altNames.join(",")}`,
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ]);
    return {
      cert: await Deno.readTextFile(certFile),
      key: await Deno.readTextFile(keyFile),
      certFile,
      keyFile,
      dir,
    };
  } catch (error) {
    if (options.dir === undefined) await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

async function openssl(args: string[]): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("openssl not found: install the Debian package openssl");
    }
    throw error;
  }
  if (!output.success) {
    const decoder = new TextDecoder();
    const text = decoder.decode(output.stderr).trim() || decoder.decode(output.stdout).trim();
    throw new Error(`openssl (Debian package openssl) exited with ${output.code}: ${text}`);
  }
}
