/**
 * The admin API secured as Easegress v2.1+ secures it (HTTPS with --tls,
 * client certificates from client-ca-file, basic-auth users), and ctl
 * reaching it through egctl's ~/.egctlrc.
 */

import assert from "node:assert/strict";
import { ctl, eventually, startNodeProcess } from "./helpers.ts";
import { makeCertificates } from "./tls_certificates.ts";

function egctlrc(server: string, dir: string, password: string): string {
  return `kind: Config
current-context: test
contexts:
  - name: test
    context: { cluster: node, user: admin }
clusters:
  - name: node
    cluster: { server: "${server}", certificate-authority: ${dir}/ca.pem }
users:
  - name: admin
    user:
      username: admin
      password: ${password}
      client-certificate: ${dir}/ca-client.pem
      client-key: ${dir}/ca-client.key
`;
}

Deno.test("admin API: HTTPS, client certificates and basic auth are required; ctl reaches it by .egctlrc", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-admin-tls-" });
  await makeCertificates(dir, "ca");
  const caCerts = [await Deno.readTextFile(`${dir}/ca.pem`)];
  const withCertificate = Deno.createHttpClient({
    caCerts,
    cert: await Deno.readTextFile(`${dir}/ca-client.pem`),
    key: await Deno.readTextFile(`${dir}/ca-client.key`),
  });
  const node = await startNodeProcess({
    args: [
      "--tls",
      "--cert-file",
      `${dir}/ca-server.pem`,
      "--key-file",
      `${dir}/ca-server.key`,
      "--client-ca-file",
      `${dir}/ca.pem`,
      "--basic-auth",
      "admin=s3cret",
    ],
    isReady: async (apiAddr) => {
      const r = await fetch(`https://${apiAddr}/apis/v2/healthz`, { client: withCertificate });
      await r.body?.cancel();
      return r.status === 401;
    },
  });
  try {
    const url = `https://${node.apiAddr}/apis/v2/objects`;
    // No plain HTTP, no connection without a client certificate.
    await assert.rejects(fetch(`http://${node.apiAddr}/apis/v2/healthz`));
    const withoutCertificate = Deno.createHttpClient({ caCerts });
    await assert.rejects(fetch(url, { client: withoutCertificate }));
    withoutCertificate.close();
    // A certificate, but no password or a wrong one.
    let r = await fetch(url, { client: withCertificate });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), 'Basic realm="easegress"');
    await r.body?.cancel();
    r = await fetch(url, {
      client: withCertificate,
      headers: { authorization: `Basic ${btoa("admin:wrong")}` },
    });
    assert.equal(r.status, 401);
    // Answered as every admin error is, and logged as every admin request is.
    assert.equal(await r.text(), "code: 401\nmessage: unauthorized\n");
    await eventually(
      "the 401 in admin_api.log",
      async () =>
        /^GET \S+ \/apis\/v2\/objects 401 /m.test(
          await Deno.readTextFile(`${node.homeDir}/log/admin_api.log`),
        ),
    );
    r = await fetch(url, {
      client: withCertificate,
      headers: { authorization: `Basic ${btoa("admin:s3cret")}` },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), []);

    // ctl finds the server, its CA, the user and the certificate in ~/.egctlrc.
    const home = `${dir}/home`;
    await Deno.mkdir(home);
    await Deno.writeTextFile(`${home}/.egctlrc`, egctlrc(node.apiAddr, dir, "s3cret"));
    const env = { HOME: home, DENO_DIR: Deno.env.get("DENO_DIR") ?? denoDir() };
    let run = await ctl(node.apiAddr, ["health"], undefined, env);
    assert.equal(run.code, 0, run.stderr);
    run = await ctl(node.apiAddr, ["get", "member", "-o", "json"], undefined, env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout)[0].options["basic-auth"].admin, "******");
    await Deno.writeTextFile(`${home}/.egctlrc`, egctlrc(node.apiAddr, dir, "wrong"));
    run = await ctl(node.apiAddr, ["get", "all"], undefined, env);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /401: unauthorized/);
  } finally {
    withCertificate.close();
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Where the runtime keeps its caches, so a process given another HOME does not fetch again. */
function denoDir(): string {
  return `${Deno.env.get("HOME")}/.cache/deno`;
}

Deno.test("admin API: TLS files without a usable certificate or key stop the node, naming them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-admin-tls-files-" });
  try {
    await makeCertificates(dir, "ca");
    await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate\n");
    const tls = (cert: string, key: string) => ["--tls", "--cert-file", cert, "--key-file", key];
    const cases: [string[], RegExp][] = [
      // Served, it would take no client: every handshake would fail.
      [
        [
          ...tls(`${dir}/ca-server.pem`, `${dir}/ca-server.key`),
          "--client-ca-file",
          `${dir}/junk.pem`,
        ],
        /--client-ca-file: \S+\/junk\.pem is neither PEM/,
      ],
      [
        tls(`${dir}/ca-server.pem`, `${dir}/ca-client.key`),
        /--key-file: \S+ is not the key of the certificate in --cert-file/,
      ],
    ];
    for (const [args, message] of cases) {
      await assert.rejects(startNodeProcess({ args }), (error: Error) => {
        assert.match(error.message, /node exited early/);
        assert.match(error.message, message);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
