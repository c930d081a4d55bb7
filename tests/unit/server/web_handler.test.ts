import assert from "node:assert/strict";
import { HttpResponse } from "../../../filters/context.ts";
import { webHandler } from "../../../server/httpserver/web_handler.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";

/** Sends `head` over a raw connection (so its target goes as written) and returns the answer's body. */
async function send(port: number, head: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(head));
  const answer = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
  return answer.slice(answer.indexOf("\r\n\r\n") + 4);
}

Deno.test("webHandler: Deno.serve's requests are routed without their dot segments", async () => {
  const web = webHandler((request) => new HttpResponse(200, undefined, request.url), "HTTP/1.1");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => web(req, () => info.remoteAddr),
  );
  try {
    const port = server.addr.port;
    const paths: [string, string][] = [
      ["/public/../admin?x=1", "/admin?x=1"],
      ["/public/%2e%2E/admin", "/admin"],
      ["/a/./b/", "/a/b/"],
      ["/a/b", "/a/b"],
    ];
    for (const [sent, routed] of paths) {
      const body = await send(port, `GET ${sent} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(body, routed, sent);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("webHandler: a target with a fragment is refused with 400, as the builtin server refuses it", async () => {
  const web = webHandler((request) => new HttpResponse(200, undefined, request.url), "HTTP/1.1");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 28602, onListen() {} },
    (req, info) => web(req, () => info.remoteAddr),
  );
  try {
    for (const target of ["/admin#x", "/a?q=1#f", "/a#f?q=1"]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: 28602 });
      await conn.write(
        new TextEncoder().encode(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      );
      const answer = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
      assert.match(answer, /^HTTP\/1\.1 400 /, target);
    }
    assert.equal(
      await send(28602, "GET /a%23b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      "/a%23b",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("webHandler: a streamed answer tells onSent once read to its end, or once cancelled", async () => {
  const events: string[] = [];
  const streamed = () => {
    const response = new HttpResponse(
      200,
      undefined,
      new ReadableStream<Uint8Array>({
        pull(c) {
          events.push("chunk");
          c.enqueue(new Uint8Array(1));
          if (events.length >= 2) c.close();
        },
      }),
    );
    response.onSent = () => events.push("sent");
    return response;
  };
  const web = webHandler(streamed, "HTTP/1.1");
  const peer = () => ({ transport: "tcp", hostname: "127.0.0.1", port: 1 }) as Deno.NetAddr;
  const read = await web(new Request("http://x/"), peer);
  assert.ok(!events.includes("sent"));
  assert.equal((await read.arrayBuffer()).byteLength, 2);
  assert.deepEqual(events, ["chunk", "chunk", "sent"]);

  events.length = 0;
  const cancelled = await web(new Request("http://x/"), peer);
  assert.ok(!events.includes("sent"));
  await cancelled.body!.cancel();
  assert.deepEqual(events.filter((e) => e === "sent"), ["sent"]);
});

Deno.test("node:http2's listener hands the target over as sent, over HTTP/1.1 and HTTP/2", async () => {
  const { startSniListener } = await import("../../../server/httpserver/sni_listener.ts");
  const tls = await makeSelfSignedCert({ names: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const web = webHandler(
    (request) => new HttpResponse(200, undefined, `${request.path} ${request.query}`),
    "HTTP/1.1",
  );
  const port = 28604;
  const listener = await startSniListener(
    port,
    "127.0.0.1",
    [{ name: "a", cert: tls.cert, key: tls.key }, { name: "b", cert: tls.cert, key: tls.key }],
    web,
    { onError: () => {} },
  );
  try {
    const cases: [string, string][] = [
      // A URL made of it read the backslash as "/" and escaped "{" and the query's "'".
      ["/a\\b/{c}?q='x'", "/a\\b/{c} q='x'"],
      ["/p/../admin?x", "/admin x"],
    ];
    for (const version of ["--http1.1", "--http2"]) {
      for (const [target, seen] of cases) {
        const out = await new Deno.Command("curl", {
          args: [
            "-sk",
            "-g",
            "--path-as-is",
            version,
            "-w",
            "|%{http_code}",
            `https://127.0.0.1:${port}${target}`,
          ],
          stdout: "piped",
        }).output();
        const [body, status] = new TextDecoder().decode(out.stdout).split("|");
        assert.deepEqual([status, body], ["200", seen], `${version} ${target}`);
      }
      // Not a path: the server answers it, as Go's does (a URL made of it failed to parse).
      const options = await new Deno.Command("curl", {
        args: [
          "-sk",
          version,
          "-X",
          "OPTIONS",
          "--request-target",
          "*",
          "-w",
          "|%{http_code}",
          `https://127.0.0.1:${port}`,
        ],
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(options.stdout), "* |200", `${version} OPTIONS *`);
    }
  } finally {
    await listener.shutdown(0);
    await Deno.remove(tls.dir, { recursive: true });
  }
});

/** Writes `head` over a connection and reads the answer until the server closes it. */
async function exchange(conn: Deno.Conn, head: string): Promise<string> {
  await conn.write(new TextEncoder().encode(head));
  return new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
}

/** What the handler saw, as the tests below read it: host, path and query. */
const seenHostAndTarget = webHandler(
  (request) => new HttpResponse(200, undefined, `${request.host} ${request.path} ${request.query}`),
  "HTTP/1.1",
);

Deno.test("webHandler: a Host that is no host[:port] is refused with 400 before routing", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 25601, onListen() {} },
    (req, info) => seenHostAndTarget(req, () => info.remoteAddr),
  );
  try {
    for (const host of ["a b", "a/b", "a@b"]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: 25601 });
      const answer = await exchange(
        conn,
        `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assert.match(answer, /^HTTP\/1\.1 400 /, host);
      assert.ok(answer.includes(`invalid Host ${JSON.stringify(host)}`), answer);
    }
    for (const [host, seen] of [["x", "x /x "], ["[::1]:80", "[::1]:80 /x "], ["::1", "::1 /x "]]) {
      assert.equal(
        await send(25601, `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
        seen,
      );
    }
  } finally {
    await server.shutdown();
  }
});

/** A node:http2 listener on `port` answering with what the handler saw, and a raw HTTP/1.1 client of it. */
async function nodeListener(port: number, handler = seenHostAndTarget) {
  const { startSniListener } = await import("../../../server/httpserver/sni_listener.ts");
  const tls = await makeSelfSignedCert({ names: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const errors: string[] = [];
  const listener = await startSniListener(
    port,
    "127.0.0.1",
    [{ name: "a", cert: tls.cert, key: tls.key }, { name: "b", cert: tls.cert, key: tls.key }],
    handler,
    { onError: (e) => errors.push(e) },
  );
  return {
    errors,
    /** Sends `head` on a connection of its own; the whole answer. */
    async over(head: string): Promise<string> {
      const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [tls.cert] });
      return await exchange(conn, head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
    },
    async close(): Promise<void> {
      await listener.shutdown(0);
      await Deno.remove(tls.dir, { recursive: true });
    },
  };
}

/** An answer's body, its chunks (node sends a handler's body chunked) joined. */
function bodyOf(answer: string): string {
  let rest = answer.slice(answer.indexOf("\r\n\r\n") + 4);
  if (!/^transfer-encoding: chunked\r$/im.test(answer)) return rest;
  let out = "";
  for (;;) {
    const size = parseInt(rest, 16);
    if (!(size > 0)) return out;
    const start = rest.indexOf("\r\n") + 2;
    out += rest.slice(start, start + size);
    rest = rest.slice(start + size + 2);
  }
}

Deno.test("node:http2's listener refuses a Host that is no host[:port] with 400, not 500", async () => {
  const node = await nodeListener(25602);
  try {
    const refused: [string, string][] = [
      ["GET /a HTTP/1.1\r\nHost: a b\r\n\r\n", 'invalid Host "a b"'],
      ["GET /a HTTP/1.1\r\nHost: a/b\r\n\r\n", 'invalid Host "a/b"'],
      ["GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "more than one Host header"],
    ];
    for (const [head, why] of refused) {
      const answer = await node.over(head);
      assert.match(answer, /^HTTP\/1\.1 400 /, head);
      assert.ok(answer.includes(why), answer);
    }
    assert.equal(bodyOf(await node.over("GET /a HTTP/1.1\r\nHost: ::1\r\n\r\n")), "::1 /a ");
    // A port no URL holds is served, as through the builtin server (a 500 before).
    assert.equal(
      bodyOf(await node.over("GET /a HTTP/1.1\r\nHost: x:99999\r\n\r\n")),
      "x:99999 /a ",
    );
    assert.deepEqual(node.errors, []);
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener takes an absolute-form target's host and path, and refuses another form with 400", async () => {
  const node = await nodeListener(25603);
  try {
    const absolute = await node.over("GET http://other.example/a?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(absolute, /^HTTP\/1\.1 200 /);
    assert.equal(bodyOf(absolute), "other.example /a q=1");
    assert.equal(bodyOf(await node.over("GET HTTP://h:81 HTTP/1.1\r\nHost: x\r\n\r\n")), "h:81 / ");
    const ftp = await node.over("GET ftp://other.example/a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(ftp, /^HTTP\/1\.1 400 /);
    assert.ok(ftp.includes('invalid request target "ftp://other.example/a"'), ftp);
    // node's parser refuses an authority-form target itself.
    const authority = await node.over("GET other.example:80 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(authority, /^HTTP\/1\.1 400 /);
    assert.deepEqual(node.errors, []);
  } finally {
    await node.close();
  }
});

Deno.test("webHandler refuses a transfer coding besides chunked with 501, on Deno.serve and node:http2's listener", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 25604, onListen() {} },
    (req, info) => seenHostAndTarget(req, () => info.remoteAddr),
  );
  const node = await nodeListener(25605);
  const upload = (codings: string) =>
    `POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ${codings}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`;
  try {
    const plain = async (head: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: 25604 });
      return await exchange(conn, head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
    };
    for (const over of [plain, node.over]) {
      const refused = await over(upload("gzip, chunked"));
      assert.match(refused, /^HTTP\/1\.1 501 /, refused);
      assert.ok(refused.includes('unsupported Transfer-Encoding "gzip, chunked"'), refused);
      assert.match(await over(upload("chunked")), /^HTTP\/1\.1 200 /);
    }
  } finally {
    await server.shutdown();
    await node.close();
  }
});

Deno.test("node:http2's listener hands a GET's body over, over HTTP/1.1 and HTTP/2", async () => {
  const echo = webHandler(
    async (request) =>
      new HttpResponse(200, undefined, `${request.method} ${await request.text()}`),
    "HTTP/1.1",
  );
  const node = await nodeListener(25607, echo);
  try {
    const query = '{"query":"x"}';
    const answer = await node.over(
      `GET /search HTTP/1.1\r\nHost: x\r\nContent-Length: ${query.length}\r\n\r\n${query}`,
    );
    assert.equal(bodyOf(answer), `GET ${query}`);
    assert.equal(bodyOf(await node.over("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")), "GET ");
    const out = await new Deno.Command("curl", {
      args: ["-sk", "--http2", "-X", "GET", "-d", query, "https://127.0.0.1:25607/search"],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout), `GET ${query}`);
    assert.deepEqual(node.errors, []);
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener refuses the request lines and missing Host the builtin server refuses", async () => {
  const node = await nodeListener(25610);
  try {
    const refused: [string, string][] = [
      ["GET /a HTTP/1.1\r\n\r\n", "400 missing Host header"],
      ["GET /a\r\n\r\n", '400 malformed request line "GET /a"'],
      ["GET /a HTTP/2.0\r\nHost: x\r\n\r\n", "505 HTTP version 2.0 is not supported"],
      [
        "POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "400 Transfer-Encoding in an HTTP/1.0 request",
      ],
      [
        "POST /a HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nContent-Length: 3\r\n\r\nabc",
        '417 unsupported Expect "foo"',
      ],
    ];
    for (const [head, answer] of refused) {
      const got = await node.over(head);
      assert.match(got, new RegExp(`^HTTP/1\\.1 ${answer.slice(0, 3)} `), head);
      assert.equal(bodyOf(got), `${answer}\n`, head);
    }
    // HTTP/1.0 needs no Host, and names none (the URL's "localhost" went upstream).
    assert.equal(bodyOf(await node.over("GET /a HTTP/1.0\r\n\r\n")), " /a ");
    const fields = await nodeListener(
      25615,
      webHandler(
        (request) => new HttpResponse(200, undefined, [...request.headers.keys()].join()),
        "HTTP/1.1",
      ),
    );
    try {
      // Nor a Host field of its own.
      assert.equal(
        bodyOf(await fields.over("GET /a HTTP/1.0\r\nX-A: 1\r\n\r\n")),
        "connection,x-a",
      );
    } finally {
      await fields.close();
    }
    const h2 = await new Deno.Command("curl", {
      args: ["-sk", "--http2", "https://127.0.0.1:25610/b?c"],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(h2.stdout), "127.0.0.1:25610 /b c");
    assert.deepEqual(node.errors, []);
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener answers CONNECT and a head its parser refuses with a status naming why", async () => {
  const node = await nodeListener(25611);
  try {
    const refused: [string, RegExp, string][] = [
      // Closed with no answer before.
      [
        "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
        /^HTTP\/1\.1 400 /,
        '400 invalid request target "x:443"\n',
      ],
      [
        "GET /a HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
        /^HTTP\/1\.1 400 /,
        "400 Invalid header token\n",
      ],
      [
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        /^HTTP\/1\.1 400 /,
        "400 Invalid character in chunk size\n",
      ],
      [
        `GET /a HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(17_000)}\r\n\r\n`,
        /^HTTP\/1\.1 431 /,
        "431 request head larger than 16 KB\n",
      ],
    ];
    for (const [head, status, body] of refused) {
      const answer = await node.over(head);
      assert.match(answer, status, head.slice(0, 40));
      assert.equal(bodyOf(answer), body, head.slice(0, 40));
    }
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener closes an HTTPS connection that sends no request once keepAliveTimeout passes", async () => {
  const { startSniListener } = await import("../../../server/httpserver/sni_listener.ts");
  const tls = await makeSelfSignedCert({ names: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const port = 25612;
  const listener = await startSniListener(
    port,
    "127.0.0.1",
    [{ name: "a", cert: tls.cert, key: tls.key }, { name: "b", cert: tls.cert, key: tls.key }],
    seenHostAndTarget,
    { onError: () => {} },
    undefined,
    { keepAliveTimeoutMs: 300, maxConnections: 10 },
  );
  try {
    const closedAfter = async (head?: string) => {
      const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [tls.cert] });
      await conn.handshake();
      const start = Date.now();
      if (head !== undefined) await conn.write(new TextEncoder().encode(head));
      const timer = setTimeout(() => conn.close(), 5_000);
      let answer = "";
      const decoder = new TextDecoder();
      try {
        for await (const chunk of conn.readable) answer += decoder.decode(chunk);
      } catch {
        // Closed without close_notify.
      }
      clearTimeout(timer);
      return { ms: Date.now() - start, answer };
    };
    // It stayed open until node's headersTimeout, a minute or more.
    const silent = await closedAfter();
    assert.ok(silent.ms >= 250 && silent.ms < 2_000, `closed after ${silent.ms} ms`);
    // One that was served is closed as idle after its answer, as before.
    const served = await closedAfter("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(served.answer, /^HTTP\/1\.1 200 /);
    assert.ok(served.ms < 2_000, `closed after ${served.ms} ms`);
  } finally {
    await listener.shutdown(0);
    await Deno.remove(tls.dir, { recursive: true });
  }
});

Deno.test("node:http2's listener sends an answer without a body with content-length: 0, not chunked", async () => {
  const empty = webHandler(
    (request) => new HttpResponse(request.path === "/none" ? 204 : 413),
    "HTTP/1.1",
  );
  const node = await nodeListener(25613, empty);
  try {
    const tooLarge = await node.over("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na");
    const head = tooLarge.slice(0, tooLarge.indexOf("\r\n\r\n"));
    assert.match(head, /^HTTP\/1\.1 413 /);
    assert.match(head, /^content-length: 0$/im);
    assert.doesNotMatch(head, /transfer-encoding/i);
    assert.equal(tooLarge.slice(head.length), "\r\n\r\n");
    const none = await node.over("GET /none HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(none, /^HTTP\/1\.1 204 /);
    assert.doesNotMatch(none, /content-length|transfer-encoding/i);
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener ends an HTTP/2 connection with GOAWAY after an answer with Connection: close", async () => {
  const closing = webHandler(
    (request) =>
      new HttpResponse(200, request.path === "/close" ? [["connection", "close"]] : undefined, "x"),
    "HTTP/1.1",
  );
  const node = await nodeListener(25614, closing);
  try {
    const connections = async (path: string) => {
      const url = `https://127.0.0.1:25614${path}`;
      const out = await new Deno.Command("curl", {
        args: ["-vsk", "--http2", url, url],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(out.stdout), "xx");
      return new TextDecoder().decode(out.stderr).match(/^\* Connected to /gm)?.length;
    };
    // The second request went on the same connection.
    assert.equal(await connections("/close"), 2);
    assert.equal(await connections("/keep"), 1);
    assert.deepEqual(node.errors, []);
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener hands every field of a head over, past the first thousand", async () => {
  const last = webHandler(
    (request) =>
      new HttpResponse(
        200,
        undefined,
        `${[...request.headers.keys()].length} ${request.headers.get("x-last")}`,
      ),
    "HTTP/1.1",
  );
  const node = await nodeListener(25616, last);
  try {
    let fields = "";
    for (let i = 0; i < 1500; i++) fields += `a${i}:1\r\n`;
    const answer = await node.over(`GET /a HTTP/1.1\r\nHost: x\r\n${fields}X-Last: yes\r\n\r\n`);
    // host, connection, the 1500 and x-last.
    assert.equal(bodyOf(answer), "1503 yes");
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener serves an HTTP/2 request with more than 128 fields", async () => {
  const last = webHandler(
    (request) => new HttpResponse(200, undefined, `${request.headers.get("x-last")}`),
    "HTTP/1.1",
  );
  const node = await nodeListener(25617, last);
  try {
    const fields: string[] = [];
    for (let i = 0; i < 300; i++) fields.push("-H", `x${i}: 1`);
    const out = await new Deno.Command("curl", {
      args: ["-sk", "--http2", ...fields, "-H", "X-Last: yes", "https://127.0.0.1:25617/a"],
      stdout: "piped",
    }).output();
    // Its stream was reset (ENHANCE_YOUR_CALM).
    assert.equal(out.code, 0);
    assert.equal(new TextDecoder().decode(out.stdout), "yes");
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener resets an HTTP/2 CONNECT's stream, as the builtin server does", async () => {
  const http2 = await import("node:http2");
  const node = await nodeListener(25618);
  try {
    const session = http2.connect("https://127.0.0.1:25618", { rejectUnauthorized: false });
    const outcome = await new Promise<string>((resolve) => {
      const stream = session.request(
        { ":method": "CONNECT", ":authority": "127.0.0.1:9" },
        { endStream: false },
      );
      let seen = "";
      stream.on("response", (h) => seen += `status ${h[":status"]} `);
      stream.on("data", (d) => seen += String(d));
      stream.on("error", () => {});
      // A 200 whose body was an HTTP/1.1 400 before.
      stream.on("close", () => resolve(`${seen}rst ${stream.rstCode}`));
    });
    session.close();
    assert.equal(outcome, `rst ${http2.constants.NGHTTP2_PROTOCOL_ERROR}`);
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener answers an HTTP/2 Expect it cannot meet with 417, and no warning", async () => {
  const http2 = await import("node:http2");
  const { default: process } = await import("node:process");
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on("warning", onWarning);
  const node = await nodeListener(25619);
  try {
    const session = http2.connect("https://127.0.0.1:25619", { rejectUnauthorized: false });
    const answer = await new Promise<string>((resolve) => {
      const stream = session.request({ ":method": "POST", ":path": "/a", "expect": "foo" });
      stream.end("abc");
      let status = "";
      let body = "";
      stream.on("response", (h) => status = `${h[":status"]}`);
      stream.on("data", (d) => body += String(d));
      stream.on("close", () => resolve(`${status} ${body}`));
    });
    session.close();
    assert.equal(answer, '417 417 unsupported Expect "foo"\n');
    // "The provided connection header is not valid", for the one a 417 over HTTP/1.1 has.
    assert.deepEqual(warnings, []);
  } finally {
    process.off("warning", onWarning);
    await node.close();
  }
});

Deno.test("node:http2's listener sends each Set-Cookie once, over HTTP/1.1 and HTTP/2", async () => {
  const cookies = webHandler(
    () => new HttpResponse(200, [["set-cookie", "a=1"], ["x-a", "1"], ["set-cookie", "b=2"]], "x"),
    "HTTP/1.1",
  );
  const node = await nodeListener(25620, cookies);
  try {
    const h1 = await node.over("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    // Each went out twice.
    assert.deepEqual(h1.match(/^set-cookie: .*$/gim), ["set-cookie: a=1", "set-cookie: b=2"]);
    const h2 = await new Deno.Command("curl", {
      args: ["-sk", "--http2", "-D", "-", "-o", "/dev/null", "https://127.0.0.1:25620/a"],
      stdout: "piped",
    }).output();
    assert.deepEqual(
      new TextDecoder().decode(h2.stdout).match(/^set-cookie: .*$/gim),
      ["set-cookie: a=1", "set-cookie: b=2"],
    );
  } finally {
    await node.close();
  }
});

Deno.test("node:http2's listener sends a field's UTF-8 bytes as they came over HTTP/1.1", async () => {
  // Headers hold byte strings: "caf\xc3\xa9" is the UTF-8 of "café".
  const utf8 = webHandler(
    () => new HttpResponse(200, [["content-disposition", "filename=caf\xc3\xa9.pdf"]], "x"),
    "HTTP/1.1",
  );
  const { startSniListener } = await import("../../../server/httpserver/sni_listener.ts");
  const tls = await makeSelfSignedCert({ names: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const listener = await startSniListener(
    25621,
    "127.0.0.1",
    [{ name: "a", cert: tls.cert, key: tls.key }, { name: "b", cert: tls.cert, key: tls.key }],
    utf8,
    { onError: () => {} },
  );
  try {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: 25621, caCerts: [tls.cert] });
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    const answer = new Uint8Array(await new Response(conn.readable).arrayBuffer());
    const bytes = new TextEncoder().encode("filename=café.pdf");
    const at = answer.findIndex((_, i) => bytes.every((b, j) => answer[i + j] === b));
    // It went as "cafÃ©", each byte encoded again.
    assert.ok(at > 0, new TextDecoder().decode(answer));
  } finally {
    await listener.shutdown(0);
    await Deno.remove(tls.dir, { recursive: true });
  }
});
