import assert from "node:assert/strict";
import { ConnectionUpgrade } from "../../../filters/connection_upgrade.ts";
import { builtinFilters } from "../../../filters/registry.ts";
import { webSocketProxyKind } from "../../../filters/websocket_proxy.ts";
import { build, contextFor, roundTrip, specProblems } from "./_helpers.ts";

const kind = webSocketProxyKind;
const HANDSHAKE = {
  connection: "Upgrade",
  upgrade: "websocket",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

/** Easegress's documented example. */
const EXAMPLE = {
  defaultOrigin: "http://127.0.0.1/hello",
  pools: [{
    servers: [{ url: "ws://127.0.0.1:12345", keepHost: true }, { url: "ws://127.0.0.1:9095" }],
    loadBalance: { policy: "roundRobin" },
    clientMaxMsgSize: 32769,
    serverMaxMsgSize: 32769,
  }],
};

Deno.test("WebSocketProxy is a built-in filter kind", () => {
  assert.equal(builtinFilters().get("WebSocketProxy"), kind);
});

Deno.test("WebSocketProxy takes Easegress's example and fills the defaults", () => {
  assert.deepEqual(roundTrip(kind, EXAMPLE), {
    pools: EXAMPLE.pools,
    defaultOrigin: "http://127.0.0.1/hello",
  });
  const plain = roundTrip(kind, { pools: [{ servers: [{ url: "http://h:1" }] }] });
  assert.deepEqual(plain.pools[0], {
    servers: [{ url: "http://h:1" }],
    loadBalance: { policy: "roundRobin" },
    clientMaxMsgSize: 32769,
    serverMaxMsgSize: 32769,
  });
  const unlimited = kind.validate({
    pools: [{ servers: [{ url: "wss://h" }], clientMaxMsgSize: -1, serverMaxMsgSize: 0 }],
  });
  assert.equal(unlimited.pools[0].clientMaxMsgSize, -1);
  assert.equal(unlimited.pools[0].serverMaxMsgSize, 32769);
});

Deno.test("WebSocketProxy refuses bad specs, naming the field", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /^pools: is required/],
    [{ pools: [] }, /^pools: /],
    [{ pools: [{ servers: [{ url: "ftp://h" }] }] }, /^pools\[0\]\.servers\[0\]\.url: /],
    [{ pools: [{ servers: [{ url: "ws://h:99999" }] }] }, /^pools\[0\]\.servers\[0\]\.url: /],
    [{ pools: [{ servers: [] }] }, /^pools\[0\]\.servers: /],
    [
      { pools: [{ servers: [{ url: "ws://h" }], clientMaxMsgSize: -2 }] },
      /^pools\[0\]\.clientMaxMsgSize: /,
    ],
    [
      { pools: [{ servers: [{ url: "ws://h" }], loadBalance: { policy: "leastConn" } }] },
      /^pools\[0\]\.loadBalance\.policy: /,
    ],
    [
      {
        pools: [{
          servers: [{ url: "ws://h" }],
          loadBalance: { stickySession: { mode: "CookieConsistentHash", appCookieName: "a" } },
        }],
      },
      /^pools\[0\]\.loadBalance\.stickySession: is not supported/,
    ],
    [
      { pools: [{ servers: [{ url: "ws://h" }] }, { servers: [{ url: "ws://g" }] }] },
      /^pools: must have exactly one pool without a filter/,
    ],
    [
      { pools: [{ servers: [{ url: "ws://h" }], serverTags: ["x"] }] },
      /^pools\[0\]\.serverTags: no server has any of these tags/,
    ],
    [{ defaultOrigin: "nowhere", pools: [{ servers: [{ url: "ws://h" }] }] }, /^defaultOrigin: /],
    [{ pools: [{ servers: [{ url: "ws://h" }] }], timeout: "1s" }, /^timeout: /],
  ];
  for (const [spec, problem] of cases) {
    const problems = specProblems(kind, spec);
    assert.ok(problems.some((p) => problem.test(p)), `${JSON.stringify(spec)}: ${problems}`);
  }
});

Deno.test("WebSocketProxy answers 400 clientError to what is not an HTTP/1.1 handshake", async () => {
  const proxy = build(kind, EXAMPLE);
  try {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ method: "GET" }, /not a WebSocket handshake/],
      [{ method: "POST", headers: HANDSHAKE }, /not a WebSocket handshake/],
      [
        { method: "GET", headers: { ...HANDSHAKE, "sec-websocket-key": "short" } },
        /Sec-WebSocket-Key/,
      ],
      [{ method: "GET", headers: { ...HANDSHAKE, "content-length": "3" } }, /has no body/],
      [{ method: "GET", proto: "HTTP/2.0", headers: HANDSHAKE }, /needs HTTP\/1\.1, not HTTP\/2/],
      [{ method: "GET", proto: "HTTP/3", headers: HANDSHAKE }, /needs HTTP\/1\.1/],
    ];
    for (const [init, message] of cases) {
      const ctx = contextFor({ path: "/ws", ...init });
      assert.equal(await proxy.handle(ctx), "clientError");
      assert.equal(ctx.response!.status, 400);
      assert.match(await ctx.response!.text(), message);
    }
    const version = contextFor({
      path: "/ws",
      headers: { ...HANDSHAKE, "sec-websocket-version": "8" },
    });
    assert.equal(await proxy.handle(version), "clientError");
    assert.equal(version.response!.header("sec-websocket-version"), "13");
  } finally {
    await proxy.close?.();
  }
});

Deno.test("WebSocketProxy answers a handshake with an upgrade; defaultOrigin fills a missing Origin", async () => {
  const proxy = build(kind, EXAMPLE);
  try {
    const ctx = contextFor({ path: "/ws", headers: HANDSHAKE });
    assert.equal(await proxy.handle(ctx), "");
    assert.ok(ctx.response instanceof ConnectionUpgrade);
    assert.equal(ctx.response.status, 101);
    assert.equal(ctx.request.header("origin"), "http://127.0.0.1/hello");
    const own = contextFor({ path: "/ws", headers: { ...HANDSHAKE, origin: "http://mine" } });
    await proxy.handle(own);
    assert.equal(own.request.header("origin"), "http://mine");
  } finally {
    await proxy.close?.();
  }
});
