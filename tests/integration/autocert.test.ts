/**
 * AutoCertManager through the real binary against Pebble, the ACME test
 * CA (Debian's `pebble`), whose validation authority resolves names through
 * `pebble-challtestsrv` to 127.0.0.1 and fetches HTTP-01 answers from the
 * node's plain HTTPServer: certificates are obtained for two domains,
 * served by SNI on an `autoCert` HTTPServer over HTTP/1.1 and HTTP/2 in
 * two workers, kept across a restart without a new order, shared by the
 * nodes of a cluster (one order, whichever node the CA's check reaches),
 * and bad specs are refused.
 */

import assert from "node:assert/strict";
import { eventually, freePort, type NodeProcess, startNodeProcess } from "./helpers.ts";
import { TestEtcdCluster } from "./cluster/etcd_fixture.ts";

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A CA and a certificate it signed for 127.0.0.1, for Pebble's own HTTPS. */
async function pebbleTls(dir: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const steps: string[][] = [
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.pem`,
      "-days",
      "2",
      "-subj",
      "/CN=test CA",
    ],
    [
      "req",
      ...ec,
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/leaf.csr`,
      "-subj",
      "/CN=localhost",
    ],
    [
      "x509",
      "-req",
      "-in",
      `${dir}/leaf.csr`,
      "-CA",
      `${dir}/ca.pem`,
      "-CAkey",
      `${dir}/ca.key`,
      "-CAcreateserial",
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "2",
      "-extfile",
      `${dir}/ext.cnf`,
    ],
  ];
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  for (const args of steps) {
    const r = await run("openssl", args);
    assert.equal(r.code, 0, r.stderr);
  }
}

interface Acme {
  directory: string;
  /** Pebble's root, which its certificates chain to. */
  root(): Promise<string>;
  /** How many certificates were issued so far. */
  issued(): number;
  stop(): Promise<void>;
}

async function startPebble(dir: string, httpPort: number): Promise<Acme> {
  await pebbleTls(dir);
  const [dnsPort, listenPort, managementPort, challtestPort, tlsPort] = [
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ];
  await Deno.writeTextFile(
    `${dir}/pebble.json`,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listenPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: `${dir}/cert.pem`,
        privateKey: `${dir}/key.pem`,
        httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const dns = new Deno.Command("pebble-challtestsrv", {
    args: [
      "-defaultIPv4",
      "127.0.0.1",
      "-defaultIPv6",
      "",
      "-dns01",
      `127.0.0.1:${dnsPort}`,
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-management",
      `127.0.0.1:${challtestPort}`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let log = "";
  const pebble = new Deno.Command("pebble", {
    args: ["-config", `${dir}/pebble.json`, "-dnsserver", `127.0.0.1:${dnsPort}`],
    env: { PEBBLE_VA_NOSLEEP: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const dec = new TextDecoder();
  const drained = Promise.all([pebble.stdout, pebble.stderr].map(async (stream) => {
    for await (const chunk of stream) log += dec.decode(chunk);
  }));
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${dir}/ca.pem`)] });
  const directory = `https://127.0.0.1:${listenPort}/dir`;
  for (let i = 0;; i++) {
    try {
      const r = await fetch(directory, { client });
      await r.body?.cancel();
      if (r.ok) break;
    } catch (e) {
      if (i > 100) throw new Error(`pebble did not start: ${e}\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    directory,
    async root() {
      const r = await fetch(`https://127.0.0.1:${managementPort}/roots/0`, { client });
      return await r.text();
    },
    issued: () => log.split("\n").filter((l) => /Issued certificate serial/.test(l)).length,
    async stop() {
      client.close();
      for (const p of [pebble, dns]) {
        try {
          p.kill("SIGKILL");
        } catch { /* gone */ }
        await p.status;
      }
      await drained;
    },
  };
}

/** GETs `https://NAME:PORT/` through curl resolving NAME to 127.0.0.1; returns the served subject and body. */
async function fetchAs(name: string, port: number, root: string, http2: boolean) {
  const r = await run("curl", [
    "-sv",
    "--max-time",
    "10",
    http2 ? "--http2" : "--http1.1",
    "--cacert",
    root,
    "--resolve",
    `${name}:${port}:127.0.0.1`,
    `https://${name}:${port}/`,
  ]);
  const subject = /subject: (.*)/.exec(r.stderr)?.[1] ?? "";
  const protocol = /< (HTTP\/[0-9.]+) \d+/.exec(r.stderr)?.[1] ?? "";
  return { code: r.code, subject, protocol, body: r.stdout, stderr: r.stderr };
}

function autoCertObjects(directory: string, httpPort: number, httpsPort: number): string {
  return `kind: AutoCertManager
name: autocert
email: admin@example.com
directoryURL: ${directory}
renewBefore: 720h
domains:
  - name: a.test
  - name: b.test
---
kind: Pipeline
name: hello
filters:
  - name: mock
    kind: Mock
    rules:
      - code: 200
        body: hello over tls
---
kind: HTTPServer
name: plain
port: ${httpPort}
rules:
  - paths:
      - pathPrefix: /
        backend: hello
---
kind: HTTPServer
name: secure
port: ${httpsPort}
https: true
autoCert: true
rules:
  - paths:
      - pathPrefix: /
        backend: hello
`;
}

/** Waits until `name` is served on `port` with its own certificate (HTTP/2), at most 60 s. */
async function waitForCertificate(name: string, port: number, root: string, node: NodeProcess) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await fetchAs(name, port, root, true);
    if (got.code === 0) {
      assert.match(got.subject, new RegExp(`CN ?= ?${name.replace(".", "\\.")}`));
      assert.equal(got.protocol, "HTTP/2");
      assert.equal(got.body, "hello over tls");
      return;
    }
    assert.ok(Date.now() < deadline, `no certificate for ${name}:\n${node.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

Deno.test("AutoCertManager: certificates from an ACME CA by HTTP-01, served by server name, kept across a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-acme-" });
  const httpPort = freePort();
  const httpsPort = freePort();
  const acme = await startPebble(dir, httpPort);
  const env = { DENO_CERT: `${dir}/ca.pem` };
  let node = await startNodeProcess({ args: ["--workers", "2"], env });
  try {
    const rootFile = `${dir}/pebble-root.pem`;
    await Deno.writeTextFile(rootFile, await acme.root());
    const created = await node.ctl(
      ["object", "create"],
      autoCertObjects(acme.directory, httpPort, httpsPort),
    );
    assert.equal(created.code, 0, created.stderr);

    // Both domains proven and served, each with its own certificate.
    for (const name of ["a.test", "b.test"]) {
      await waitForCertificate(name, httpsPort, rootFile, node);
    }
    const h1 = await fetchAs("b.test", httpsPort, rootFile, false);
    assert.equal(h1.protocol, "HTTP/1.1");
    assert.equal(h1.body, "hello over tls");
    assert.equal(acme.issued(), 2);

    const status = await node.ctl(["object", "status", "get", "autocert", "-o", "json"]);
    const domains = Object.values(JSON.parse(status.stdout) as Record<string, {
      domains: { name: string; state: string; expireTime: string }[];
    }>)[0].domains;
    assert.deepEqual(domains.map((d) => [d.name, d.state]), [["a.test", "valid"], [
      "b.test",
      "valid",
    ]]);
    assert.ok(Date.parse(domains[0].expireTime) > Date.now() + 86_400_000);

    // A path under the challenge prefix with no answer is routed as usual.
    const other = await fetch(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/none`);
    assert.equal(await other.text(), "hello over tls");

    // After a restart the stored certificates are served at once; nothing is ordered again.
    assert.equal(await node.stop(), 0);
    node = await startNodeProcess({ homeDir: node.homeDir, args: ["--workers", "1"], env });
    let again;
    for (let i = 0; i < 100; i++) {
      again = await fetchAs("a.test", httpsPort, rootFile, false);
      if (again.code === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(again?.body, "hello over tls", again?.stderr ?? "");
    assert.equal(acme.issued(), 2);

    // Another ACME directory (as from a CA's staging one to its production one): the
    // certificates of the former are replaced at once, not years later when due.
    const moved = await node.ctl(
      ["object", "update"],
      autoCertObjects(acme.directory.replace("127.0.0.1", "localhost"), httpPort, httpsPort)
        .split("---")[0],
    );
    assert.equal(moved.code, 0, moved.stderr);
    await eventually(
      "both certificates ordered again",
      () => Promise.resolve(acme.issued() === 4),
      60_000,
    )
      .catch((e) => assert.fail(`${e}\n${node.output()}`));
  } finally {
    await node.stop();
    await acme.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AutoCertManager: what this node cannot prove or serve is refused with the field named", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  try {
    const cases: [string, RegExp][] = [
      [
        "domains:\n  - name: '*.example.com'",
        /domains\[0\]\.name: .*wildcard names need the DNS-01/,
      ],
      [
        "domains:\n  - name: a.example.com\n    dnsProvider:\n      name: cloudflare",
        /domains\[0\]\.dnsProvider: DNS-01 is not supported/,
      ],
      [
        "enableHTTP01: false\ndomains:\n  - name: a.example.com",
        /enableHTTP01: is the only challenge/,
      ],
      ["domains:\n  - name: not_a_name", /domains\[0\]\.name: "not_a_name" is not a DNS name/],
    ];
    for (const [fields, expected] of cases) {
      const r = await node.ctl(
        ["object", "create"],
        `kind: AutoCertManager\nname: ac\nemail: a@example.com\n${fields}\n`,
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, expected);
    }
    const noEmail = await node.ctl(["object", "create"], "kind: AutoCertManager\nname: ac\n");
    assert.match(noEmail.stderr, /email/);
    const server = await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${freePort()}\nautoCert: true\nrules: []\n`,
    );
    assert.match(server.stderr, /autoCert: needs https: true/);
    assert.equal((await node.ctl(["object", "list"])).stdout.trim(), "[]");
  } finally {
    await node.stop();
  }
});

Deno.test("AutoCertManager: a cluster orders once and every node serves the certificates", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-acme-" });
  const httpPort = freePort();
  const httpsPort = freePort();
  const etcd = await TestEtcdCluster.start(1);
  const acme = await startPebble(dir, httpPort);
  const env = { DENO_CERT: `${dir}/ca.pem` };
  const common = [
    "--cluster-name",
    "acme",
    "--etcd-endpoints",
    etcd.endpoints[0],
    "--workers",
    "1",
  ];
  const nodes: NodeProcess[] = [];
  try {
    for (const name of ["n1", "n2"]) {
      nodes.push(await startNodeProcess({ args: ["--name", name, ...common], env }));
    }
    const rootFile = `${dir}/pebble-root.pem`;
    await Deno.writeTextFile(rootFile, await acme.root());
    const created = await nodes[1].ctl(
      ["object", "create"],
      autoCertObjects(acme.directory, httpPort, httpsPort),
    );
    assert.equal(created.code, 0, created.stderr);
    for (const name of ["a.test", "b.test"]) {
      await waitForCertificate(name, httpsPort, rootFile, nodes[0]);
    }
    assert.equal(acme.issued(), 2);
    // Both nodes share the port: new connections reach either, and each has the certificates.
    for (const [i, node] of nodes.entries()) {
      await eventually(`n${i + 1} serving on ${httpsPort}`, async () => {
        const status = await node.ctl(["object", "status", "get", "secure", "-o", "json"]);
        const own = (JSON.parse(status.stdout) as Record<string, { state: string }>)[`n${i + 1}`];
        return own?.state === "running";
      });
    }
    for (let i = 0; i < 6; i++) {
      const got = await fetchAs(i % 2 ? "a.test" : "b.test", httpsPort, rootFile, false);
      assert.equal(got.body, "hello over tls", got.stderr);
    }
  } finally {
    for (const node of nodes) await node.stop();
    await acme.stop();
    await etcd.close();
    await Deno.remove(dir, { recursive: true });
  }
});
