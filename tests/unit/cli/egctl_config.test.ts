import assert from "node:assert/strict";
import { connectionFetch, readEgctlConfig } from "../../../cli/egctl_config.ts";

async function withConfig(text: string, use: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/.egctlrc`, text);
    await use(`${dir}/.egctlrc`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** PEM blocks of the right form (the TLS library, not this reader, judges their contents). */
const CA_PEM = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
const CERT_PEM = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
const KEY_PEM = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n";

const CONFIG = `kind: Config
current-context: two
contexts:
  - name: one
    context: { cluster: c1, user: u1 }
  - name: two
    context: { cluster: c2, user: u2 }
clusters:
  - name: c1
    cluster: { server: one:2381 }
  - name: c2
    cluster: { server: two:2381, certificate-authority-data: ${btoa(CA_PEM)} }
users:
  - name: u1
    user: { username: a }
  - name: u2
    user:
      username: b
      password: pw
      client-certificate-data: ${btoa(CERT_PEM)}
      client-key-data: ${btoa(KEY_PEM)}
`;

Deno.test("readEgctlConfig() takes the current context's cluster and user", async () => {
  await withConfig(CONFIG, async (path) => {
    assert.deepEqual(await readEgctlConfig(path), {
      server: "two:2381",
      caCert: CA_PEM,
      cert: CERT_PEM,
      key: KEY_PEM,
      username: "b",
      password: "pw",
    });
  });
  assert.deepEqual(await readEgctlConfig("/nonexistent/.egctlrc"), {});
});

Deno.test("readEgctlConfig() reads an unquoted number as written, as egctl's Go YAML does", async () => {
  await withConfig(CONFIG.replace("password: pw", "password: 0123"), async (path) => {
    // Not "123", which the node would refuse.
    assert.equal((await readEgctlConfig(path)).password, "0123");
  });
});

Deno.test("readEgctlConfig() names what is wrong in the file", async () => {
  for (
    const [text, message] of [
      ["current-context: x\ncontexts: []\n", /no context named "x"/],
      ["current-context: [\n", /invalid YAML/],
      ["- a\n", /must be a map/],
      [
        CONFIG.replace(
          `client-certificate-data: ${btoa(CERT_PEM)}`,
          'client-certificate-data: "%%"',
        ),
        /not base64/,
      ],
      // The TLS library would skip these silently: the node would then refuse the connection.
      [
        CONFIG.replace(btoa(CA_PEM), btoa("not a certificate")),
        /certificate-authority-data is neither PEM nor base64-encoded PEM/,
      ],
      [
        CONFIG.replace(btoa(KEY_PEM), btoa(CERT_PEM)),
        /client-key-data has no PEM PRIVATE KEY block/,
      ],
      [
        CONFIG.replace(`client-key-data: ${btoa(KEY_PEM)}`, ""),
        /client-certificate and client-key go together/,
      ],
      [CONFIG.replace("certificate-authority-data", "certificate-authority"), /cannot read/],
    ] as const
  ) {
    await withConfig(text, async (path) => {
      await assert.rejects(readEgctlConfig(path), message);
    });
  }
});

Deno.test("connectionFetch() adds basic auth to every request", async () => {
  let seen: Headers | undefined;
  const base = ((_input: unknown, init?: RequestInit) => {
    seen = new Headers(init?.headers);
    return Promise.resolve(new Response("ok"));
  }) as typeof fetch;
  await connectionFetch({ username: "admin", password: "s3cret" }, base)("http://x/", {
    headers: { accept: "application/json" },
  });
  assert.equal(seen?.get("authorization"), `Basic ${btoa("admin:s3cret")}`);
  assert.equal(seen?.get("accept"), "application/json");
  assert.equal(connectionFetch({}, base), base);
});
