import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import { builtinFilters } from "../../../filters/registry.ts";
import { DataPlane } from "../../../server/dataplane.ts";
import { LogSink } from "../../../server/log.ts";
import { validateObject } from "../../../server/objects.ts";
import type { StoreData } from "../../../server/store_data.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";
import { eventually, freePort } from "../../integration/helpers.ts";

/** The serial number of the certificate 127.0.0.1:`port` presents for `serverName`. */
function servedCert(port: number, serverName: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: serverName,
      rejectUnauthorized: false,
    }, () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      resolve(cert.serialNumber);
    });
    socket.on("error", reject);
  });
}

Deno.test("an autoCert HTTPServer serves the certificates of its AutoCertManager's domains only", async () => {
  const managedA = await makeSelfSignedCert({ names: ["a.test"] });
  const managedB = await makeSelfSignedCert({ names: ["b.test"] });
  const own = await makeSelfSignedCert({ names: ["a.test", "b.test"] });
  const port = freePort();
  // The listener (re)starts in the background of apply.
  const serves = (serverName: string, pem: string, which: string) =>
    eventually(
      `${serverName}: ${which}`,
      async () => await servedCert(port, serverName) === new X509Certificate(pem).serialNumber,
    );
  const filters = builtinFilters();
  const plane = new DataPlane({ filters, logs: new LogSink({ level: "error" }) });
  const server = validateObject({
    kind: "HTTPServer",
    name: "s",
    port,
    address: "127.0.0.1",
    https: true,
    autoCert: true,
    certs: { own: own.cert },
    keys: { own: own.key },
    rules: [],
  }, filters);
  const manager = (domains: string[]) =>
    validateObject({
      kind: "AutoCertManager",
      name: "autocert",
      email: "admin@example.com",
      domains: domains.map((name) => ({ name })),
    }, filters);
  // The store holds certificates of both domains, as after b.test's manager obtained them.
  const data: StoreData = {
    autoCert: {
      certs: {
        "a.test": { cert: managedA.cert, key: managedA.key },
        "b.test": { cert: managedB.cert, key: managedB.key },
      },
      challenges: {},
    },
    customData: {},
  };
  try {
    assert.deepEqual(await plane.apply([manager(["a.test", "b.test"]), server], data), []);
    await serves("a.test", managedA.cert, "the managed certificate");
    await serves("b.test", managedB.cert, "the managed certificate");

    // a.test dropped from the manager: the server's own certificate for it, not the stale one.
    assert.deepEqual(await plane.apply([manager(["b.test"]), server], data), []);
    await serves("a.test", own.cert, "the server's own certificate");
    await serves("b.test", managedB.cert, "the managed certificate");

    // No AutoCertManager at all: none of its certificates.
    assert.deepEqual(await plane.apply([server], data), []);
    await serves("b.test", own.cert, "the server's own certificate");
  } finally {
    await plane.close();
    for (const tls of [managedA, managedB, own]) await Deno.remove(tls.dir, { recursive: true });
  }
});
