import assert from "node:assert/strict";
import { SpecReader } from "../../../filters/spec.ts";
import { HealthChecker, httpProbe, readHealthCheck } from "../../../filters/proxy/health_check.ts";
import { http1Transport, type Transport } from "../../../filters/proxy/transport.ts";

/** Transports by origin, made on first use, as a Proxy's are. */
function transports() {
  const made = new Map<string, Transport>();
  const of = (origin: string) => {
    let t = made.get(origin);
    if (!t) made.set(origin, t = http1Transport(origin));
    return t;
  };
  return { of, close: () => made.forEach((t) => t.close()) };
}

function read(spec: unknown) {
  const r = SpecReader.root(spec);
  const out = readHealthCheck(r);
  r.finish();
  return { spec: out, problems: r.problems };
}

Deno.test("healthCheck spec: defaults, Easegress's path as uri, problems named", () => {
  assert.deepEqual(read({ interval: "5s", path: "/health" }).spec, {
    fails: 1,
    passes: 1,
    method: "GET",
    interval: "5s",
    uri: "/health",
  });
  assert.deepEqual(
    read({
      interval: 5,
      fails: 0,
      method: "FETCH",
      uri: "health",
      username: "u",
      match: { statusCode: [[300, 200]], headers: [{ name: "x", type: "glob" }] },
    }).problems,
    [
      "fails: must be at least 1, got 0",
      'method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, got "FETCH"',
      "interval: must be a string, got number 5",
      'uri: must be a path starting with "/", got "health"',
      "password: is required with the other one",
      "match.statusCode: must be a list of [from, to] status ranges, such as [[200, 299]]",
      'match.headers[0].type: must be one of exact, regexp, got "glob"',
    ],
  );
});

Deno.test("a server leaves after `fails` failed checks in a row and comes back after `passes`", async () => {
  const up = new Map([["http://a", true], ["http://b", true]]);
  const changes: string[][] = [];
  const checker = new HealthChecker(
    { fails: 2, passes: 2, method: "GET", interval: "1h" },
    (unhealthy) => changes.push([...unhealthy]),
    (url) => Promise.resolve(up.get(url)!),
  );
  try {
    checker.setServers(["http://a", "http://b"]);
    up.set("http://b", false);
    await checker.check();
    assert.deepEqual(changes, []); // one failure is not enough
    await checker.check();
    assert.deepEqual(changes, [["http://b"]]);
    up.set("http://b", true);
    await checker.check();
    await checker.check();
    assert.deepEqual(changes, [["http://b"], []]);
    // A server that stays keeps its state; a new one starts healthy.
    up.set("http://a", false);
    await checker.check();
    await checker.check();
    checker.setServers(["http://a", "http://c"]);
    up.set("http://c", true);
    assert.deepEqual([...checker.unhealthy()], ["http://a"]);
  } finally {
    checker.close();
  }
});

Deno.test("a server taken out or brought back is logged once, with why it failed", async () => {
  const lines: string[] = [];
  const log = {
    debug: () => {},
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
  };
  let answer: boolean | Error = new Error("Connection refused");
  const checker = new HealthChecker(
    { fails: 2, passes: 1, method: "GET", interval: "1h" },
    () => {},
    () => answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer),
    undefined,
    log,
  );
  try {
    checker.setServers(["http://a"]);
    for (let i = 0; i < 3; i++) await checker.check();
    answer = true;
    await checker.check();
    await checker.check();
    answer = false;
    await checker.check();
    await checker.check();
    assert.deepEqual(lines, [
      "warn http://a is out of the pool (health checks failed in a row: 2, the last: Connection refused)",
      "info http://a is back in the pool (health checks passed in a row: 1)",
      "warn http://a is out of the pool (health checks failed in a row: 2, the last: its answer did not match)",
    ]);
  } finally {
    checker.close();
  }
});

Deno.test("the HTTP probe asks uri on the server's host and matches status, headers and body", async () => {
  const seen: string[] = [];
  let status = 200;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(
      `${req.method} ${new URL(req.url).pathname}${new URL(req.url).search} ${
        req.headers.get("authorization")
      } ${req.headers.get("x-probe")}`,
    );
    return new Response("status: UP", { status, headers: { "x-ready": "yes" } });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const t = transports();
  try {
    const probe = httpProbe(
      read({
        uri: "/health?deep=1",
        headers: { "X-Probe": "eg" },
        username: "u",
        password: "p",
        match: {
          statusCode: [[200, 204]],
          headers: [{ name: "X-Ready", value: "^y", type: "regexp" }],
          body: { value: "UP" },
        },
      }).spec,
      t.of,
    );
    assert.equal(await probe(url), true);
    assert.deepEqual(seen, ["GET /health?deep=1 Basic dTpw eg"]);
    // A failed check rejects saying what did not match, for the log.
    status = 503;
    await assert.rejects(probe(url), /^Error: answered 503$/);
    status = 200;
    const down = httpProbe(read({ match: { body: { value: "DOWN" } } }).spec, t.of);
    await assert.rejects(down(url), /^Error: its body did not match$/);
    const notReady = httpProbe(
      read({ match: { headers: [{ name: "X-Ready", value: "no" }] } }).spec,
      t.of,
    );
    await assert.rejects(notReady(url), /^Error: its X-Ready did not match$/);
    // Nobody listening: the probe rejects, which the checker counts as a failed check.
    const closed = httpProbe(read({ timeout: "500ms" }).spec, t.of);
    await assert.rejects(closed("http://127.0.0.1:1"));
  } finally {
    t.close();
    await server.shutdown();
  }
});
