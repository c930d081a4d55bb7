/**
 * Certificates made for a test with openssl (a Debian test dependency):
 * throwaway CAs and the leaves they sign.
 *
 * @module
 */

import assert from "node:assert/strict";

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/**
 * A CA named `ca`, and a server certificate for 127.0.0.1 and a client
 * certificate it signed, in `dir`: `<ca>.pem`/`.key`, `<ca>-server.*`,
 * `<ca>-client.*`; the leaves' subjects are `/CN=<ca>-<leaf>/O=<ca> org`.
 */
export async function makeCertificates(dir: string, ca: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${dir}/${ca}.key`,
    "-out",
    `${dir}/${ca}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=${ca}`,
  ]);
  const leaves: [string, string][] = [
    ["server", "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"],
    ["client", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"],
  ];
  for (const [name, extensions] of leaves) {
    const leaf = `${dir}/${ca}-${name}`;
    await Deno.writeTextFile(`${leaf}.cnf`, extensions);
    await openssl([
      "req",
      ...ec,
      "-keyout",
      `${leaf}.key`,
      "-out",
      `${leaf}.csr`,
      "-subj",
      `/CN=${ca}-${name}/O=${ca} org`,
    ]);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${leaf}.csr`,
      "-CA",
      `${dir}/${ca}.pem`,
      "-CAkey",
      `${dir}/${ca}.key`,
      "-CAcreateserial",
      "-out",
      `${leaf}.pem`,
      "-days",
      "2",
      "-extfile",
      `${leaf}.cnf`,
    ]);
  }
}
