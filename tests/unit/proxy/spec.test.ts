import assert from "node:assert/strict";
import { proxyKind } from "../../../filters/proxy/proxy.ts";
import { specProblems } from "../filters/_helpers.ts";

const servers = [{ url: "http://127.0.0.1:9095" }];

Deno.test("Proxy spec: header names the pools match or hash on must be header names", () => {
  // Accepted, each of these failed every request: Headers throw on such a name.
  const problems = specProblems(proxyKind, {
    pools: [
      { servers, loadBalance: { policy: "headerHash", headerHashKey: "bad name" } },
      { servers, filter: { headers: { "bad name": { exact: "x" } } } },
      { servers, filter: { policy: "headerHash", headerHashKey: "", permil: 500 } },
      { servers, filter: { policy: "headerHash", permil: 500 } },
    ],
  });
  assert.deepEqual(problems, [
    'pools[0].loadBalance.headerHashKey: "bad name" is not a valid header name',
    'pools[1].filter.headers.bad name: "bad name" is not a valid header name',
    "pools[2].filter.headerHashKey: is required by headerHash",
    "pools[3].filter.headerHashKey: is required by headerHash",
  ]);
});

Deno.test("Proxy spec: a server URL must parse, its port included", () => {
  // Accepted, each of these left the pipeline failed with "Invalid URL".
  const problems = specProblems(proxyKind, {
    pools: [{ servers: [{ url: "http://127.0.0.1:99999" }, { url: "http://a%zz:80" }] }],
  });
  assert.deepEqual(problems, [
    'pools[0].servers[0].url: must be a valid URL (a port up to 65535), got "http://127.0.0.1:99999"',
    'pools[0].servers[1].url: must be a valid URL (a port up to 65535), got "http://a%zz:80"',
  ]);
});

Deno.test("Proxy spec: weights out of range are named, not taken for missing ones", () => {
  const weights = (...w: (number | undefined)[]) =>
    specProblems(proxyKind, {
      pools: [{ servers: w.map((weight, i) => ({ url: `http://127.0.0.1:${9095 + i}`, weight })) }],
    });
  assert.deepEqual(weights(101, -1), [
    "pools[0].servers[0].weight: must be at most 100, got 101",
    "pools[0].servers[1].weight: must be at least 0, got -1",
  ]);
  assert.deepEqual(weights(5, undefined), [
    "pools[0].servers: weights must be set on every server or on none",
  ]);
});

Deno.test("Proxy spec: a failure code given twice is named, as Easegress's schema refuses it", () => {
  const problems = specProblems(proxyKind, {
    pools: [{ servers, failureCodes: [500, 503, 500] }],
  });
  assert.deepEqual(problems, ["pools[0].failureCodes[2]: repeats 500"]);
});
