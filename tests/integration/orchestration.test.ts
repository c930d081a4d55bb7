/**
 * API orchestration through the node: the seed's RSS -> Slack pipeline with
 * its two HTTPS upstreams replaced by local servers, and the api-aggregation
 * and pipeline cookbook examples.
 */

import assert from "node:assert/strict";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";
import { testCert } from "./http3/_helpers.ts";

async function gzipText(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("orchestration: the seed's RSS -> Slack pipeline runs against local HTTPS upstreams", async () => {
  const { cert, key } = await testCert();
  const certFile = await Deno.makeTempFile({ suffix: ".pem" });
  await Deno.writeTextFile(certFile, cert);
  const feedUrls: string[] = [];
  const feed = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      feedUrls.push(`${url.pathname}?${url.searchParams.get("url")}`);
      const body = JSON.stringify({
        title: "Hacker News: Newest",
        items: [
          { url: "https://example.com/a", title: "First post" },
          { url: "https://example.com/b", title: "Second post" },
        ],
      });
      return new Response(await gzipText(body), {
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
    },
  );
  const webhook: { path: string; body: string }[] = [];
  const slack = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
    async (req) => {
      webhook.push({ path: new URL(req.url).pathname, body: await req.text() });
      return new Response("ok");
    },
  );
  // The upstreams are trusted through DENO_CERT, as a user would add a private CA.
  const node = await startNodeProcess({ env: { DENO_CERT: certFile } });
  const port = freePort();
  try {
    const yaml =
      (await Deno.readTextFile(new URL("../../examples/rss-pipeline.yaml", import.meta.url)))
        .replace("https://www.toptal.com", `https://localhost:${feed.addr.port}`)
        .replace("https://hooks.slack.com", `https://localhost:${slack.addr.port}`);
    const created = await node.ctl(["object", "create"], yaml);
    assert.equal(created.code, 0, created.stderr);
    const server =
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - pathPrefix: /rss\n      backend: rss-pipeline\n`;
    assert.equal((await node.ctl(["object", "create"], server)).code, 0);
    const url = `http://127.0.0.1:${port}/rss`;
    await eventually("server up", async () => (await request(url)).status === 400);

    const r = await request(url, { headers: { "X-Rss-Url": "https://hnrss.org/newest?count=5" } });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, "RSS feed has been sent to Slack successfully.");
    assert.deepEqual(feedUrls, ["/developers/feed2json/convert?https://hnrss.org/newest?count=5"]);
    assert.equal(webhook.length, 1);
    assert.equal(webhook[0].path, "/services/T0XXXXXXXXX/B0YYYYYYY/ZZZZZZZZZZZZZZZZZZZZ");
    const message = JSON.parse(webhook[0].body);
    assert.equal(message.text, "Recent posts - Hacker News: Newest");
    assert.equal(
      message.blocks[1].text.text,
      "• <https://example.com/a|First post>\n• <https://example.com/b|Second post>\n",
    );
  } finally {
    await node.stop();
    await feed.shutdown();
    await slack.shutdown();
    await Deno.remove(certFile);
  }
});

Deno.test("orchestration: api aggregation merges three backends' JSON; alias and END route the flow", async () => {
  // As Easegress's cookbook writes it: one RequestBuilder copies the request into each namespace.
  const backends = [1, 2, 3].map((n) =>
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => Response.json({ [`k${n}`]: n, shared: n }),
    )
  );
  const node = await startNodeProcess();
  const port = freePort();
  const ns = [1, 2, 3];
  try {
    const aggregation = `name: agg
kind: Pipeline
flow:
${
      ns.map((n) =>
        `  - filter: copy\n    namespace: demo${n}\n  - filter: proxy${n}\n    namespace: demo${n}`
      ).join("\n")
    }
  - filter: merge
filters:
  - name: copy
    kind: RequestBuilder
    sourceNamespace: DEFAULT
${
      ns.map((n, i) =>
        `  - name: proxy${n}\n    kind: Proxy\n    pools:\n      - servers:\n          - url: http://127.0.0.1:${
          backends[i].addr.port
        }`
      ).join("\n")
    }
  - name: merge
    kind: ResponseBuilder
    template: |
      statusCode: 200
      body: |
        {{mergeObject .responses.demo1.JSONBody .responses.demo2.JSONBody .responses.demo3.JSONBody | toRawJson}}
`;
    const created = await node.ctl(["object", "create"], aggregation);
    assert.equal(created.code, 0, created.stderr);

    // The pipeline cookbook: a validator jumping past END to a failure response, and an alias.
    const routing = `name: routing
kind: Pipeline
flow:
  - filter: validator
    jumpIf: { invalid: buildFailureResponse }
  - filter: buildHello
  - filter: buildOk
  - filter: END
  - filter: buildFailure
    alias: buildFailureResponse
filters:
  - name: validator
    kind: Validator
    headers:
      X-Id:
        regexp: ^[0-9]+$
  - name: buildHello
    kind: RequestBuilder
    template: |
      url: /hello
  - name: buildOk
    kind: ResponseBuilder
    template: |
      statusCode: 200
      body: ok {{.requests.DEFAULT.URL.Path}}
  - name: buildFailure
    kind: ResponseBuilder
    template: |
      statusCode: 400
      body: invalid id
`;
    const routed = await node.ctl(["object", "create"], routing);
    assert.equal(routed.code, 0, routed.stderr);
    const broken = routing.replace("name: routing", "name: broken").replace(
      "ok {{.requests",
      "ok {{if .requests",
    );
    const refused = await node.ctl(["object", "create"], broken);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /filters\[2\]\.template: .*template: :\d+: /);
    const server =
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - path: /agg\n      backend: agg\n    - path: /route\n      backend: routing\n`;
    assert.equal((await node.ctl(["object", "create"], server)).code, 0);
    await eventually(
      "up",
      async () => (await request(`http://127.0.0.1:${port}/agg`)).status === 200,
    );

    const merged = JSON.parse((await request(`http://127.0.0.1:${port}/agg`)).body);
    assert.deepEqual(merged, { k1: 1, k2: 2, k3: 3, shared: 3 });
    const bad = await request(`http://127.0.0.1:${port}/route`, { headers: { "X-Id": "abc" } });
    assert.deepEqual([bad.status, bad.body.trim()], [400, "invalid id"]);
    const good = await request(`http://127.0.0.1:${port}/route`, { headers: { "X-Id": "42" } });
    assert.deepEqual([good.status, good.body.trim()], [200, "ok /hello"]);
  } finally {
    await node.stop();
    await Promise.all(backends.map((b) => b.shutdown()));
  }
});
