import assert from "node:assert/strict";
import { builtinFilters } from "../../../filters/registry.ts";
import { HttpResponse } from "../../../filters/context.ts";
import { quicRetryDelay, startListener } from "../../../server/httpserver/listener.ts";
import { LISTEN_RETRY_MS } from "../../../server/listen_retry.ts";
import type { HTTPServerSpec } from "../../../server/httpserver/spec.ts";
import { validateObject } from "../../../server/objects.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";
import { freePort } from "../../integration/helpers.ts";
import { RawH3Client, within } from "../../integration/http3/_helpers.ts";

Deno.test("a listener whose UDP port was taken serves HTTP/3 once the port is let go", async () => {
  const tls = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const port = freePort();
  // Taken as a QUIC socket this isolate closed lately stays until it is collected.
  const holder = Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" });
  let held = true;
  const spec = validateObject({
    kind: "HTTPServer",
    name: "s",
    port,
    address: "127.0.0.1",
    https: true,
    http3: true,
    certBase64: btoa(tls.cert),
    keyBase64: btoa(tls.key),
    rules: [],
  }, builtinFilters()) as HTTPServerSpec;
  const errors: string[] = [];
  const listener = await startListener(spec, () => new HttpResponse(204), {
    onError: (e) => errors.push(e),
  });
  try {
    assert.match(listener.degraded ?? "", /^cannot serve HTTP\/3 on UDP port \d+: /);
    holder.close();
    held = false;
    const deadline = Date.now() + 3000;
    while (listener.degraded !== undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(listener.degraded, undefined, "HTTP/3 is served now");
    assert.equal(errors.length, 1, "the failure is logged once");
  } finally {
    if (held) holder.close();
    await listener.shutdown(0);
    await Deno.remove(tls.dir, { recursive: true });
  }
});

Deno.test("HTTP/3 tries for a taken UDP port every second at first, then every 10 s for good, as TCP does", () => {
  assert.equal(quicRetryDelay(1), 1000);
  assert.equal(quicRetryDelay(30), 1000);
  assert.equal(quicRetryDelay(31), LISTEN_RETRY_MS);
  assert.equal(quicRetryDelay(10_000), LISTEN_RETRY_MS);
});

Deno.test("HTTP/3 requests reach the handler with their :path as sent, as over HTTP/1.1 and HTTP/2", async () => {
  const tls = await makeSelfSignedCert({ names: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const port = 28601;
  const spec = validateObject({
    kind: "HTTPServer",
    name: "s",
    port,
    address: "127.0.0.1",
    https: true,
    http3: true,
    certBase64: btoa(tls.cert),
    keyBase64: btoa(tls.key),
    rules: [],
  }, builtinFilters()) as HTTPServerSpec;
  const listener = await startListener(
    spec,
    (request) => new HttpResponse(200, undefined, `${request.path} ${request.query}`),
    { onError: () => {} },
  );
  const client = await RawH3Client.connect(port, tls.cert);
  try {
    client.openControlStream();
    const cases: [string, string, string][] = [
      // A URL made of the :path read the backslash as "/" and escaped the rest.
      ["GET", "/a\\b/{c}|\"d\"?q='x'&r=<y>", "/a\\b/{c}|\"d\" q='x'&r=<y>"],
      ["GET", "/p/\\..\\admin", "/p/\\..\\admin "],
      // Dot segments still go before routing.
      ["GET", "/p/../admin?x", "/admin x"],
      // Not the path "/*": the server answers it (as Go's does), rules never see it.
      ["OPTIONS", "*", "* "],
    ];
    for (const [method, target, seen] of cases) {
      const answer = await within(
        client.request(client.headersFrame([
          ":method",
          method,
          ":scheme",
          "https",
          ":authority",
          "localhost",
          ":path",
          target,
        ])),
        5000,
        target,
      );
      assert.equal(answer.status, "200", target);
      assert.equal(answer.body, seen, target);
    }
  } finally {
    client.close();
    await listener.shutdown(0);
    await Deno.remove(tls.dir, { recursive: true });
  }
});
