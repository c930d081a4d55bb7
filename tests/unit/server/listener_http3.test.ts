import assert from "node:assert/strict";
import { builtinFilters } from "../../../filters/registry.ts";
import { HttpResponse } from "../../../filters/context.ts";
import { quicRetryDelay, startListener } from "../../../server/httpserver/listener.ts";
import { LISTEN_RETRY_MS } from "../../../server/listen_retry.ts";
import type { HTTPServerSpec } from "../../../server/httpserver/spec.ts";
import { validateObject } from "../../../server/objects.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";
import { freePort } from "../../integration/helpers.ts";

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
