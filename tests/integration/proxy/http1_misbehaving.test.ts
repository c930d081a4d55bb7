import assert from "node:assert/strict";
import { Http1Pool, UpstreamError } from "../../../filters/proxy/http1_client.ts";
import { http1Transport } from "../../../filters/proxy/transport.ts";
import {
  contentLengthOf,
  eventually,
  get,
  patternStream,
  poolFor,
  RawServer,
  settle,
  text,
} from "./http1_helpers.ts";

const OK_HELLO = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

function isUpstreamError(kind: string, message?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${error}`);
    assert.equal(error.kind, kind, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

/** Answers the first request on each connection; on the second, closes without answering. */
function closesOnSecondRequest(): RawServer {
  return new RawServer(async (reader) => {
    const first = await reader.head();
    if (first === null) return;
    await reader.body(contentLengthOf(first));
    await reader.write(OK_HELLO);
    await reader.head(); // the reused connection's request: hang up, like a server whose idle timer fired
  });
}

Deno.test("pool retries a GET once on a fresh connection when a reused one was closed", async () => {
  const server = closesOnSecondRequest();
  const pool = poolFor(server.port);
  try {
    assert.equal(await text((await pool.request(get("/1"))).body), "hello");
    assert.equal(await text((await pool.request(get("/2"))).body), "hello");
    assert.equal(pool.stats.created, 2);
    assert.equal(pool.stats.reused, 1);
    assert.equal(server.accepted, 2);
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool retries a POST without body, but not one whose body was sent", async () => {
  const server = closesOnSecondRequest();
  const pool = poolFor(server.port);
  try {
    await text((await pool.request(get("/"))).body);
    const empty = await pool.request({ ...get("/"), method: "POST" });
    assert.equal(await text(empty.body), "hello", "no body byte was sent: retried");
    await assert.rejects(
      pool.request({ ...get("/"), method: "POST", body: new TextEncoder().encode("payload") }),
      isUpstreamError("closed", /not retried/),
    );
    assert.equal(pool.stats.open, 0, "the stale connection is dropped");
    assert.equal(server.accepted, 2, "the POST with a body was not resent");
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool retries a POST whose body was sent when it carries an Idempotency-Key", async () => {
  const server = closesOnSecondRequest();
  const pool = poolFor(server.port);
  try {
    for (const name of ["Idempotency-Key", "X-Idempotency-Key"]) {
      await text((await pool.request(get("/"))).body);
      const response = await pool.request({
        ...get("/"),
        method: "POST",
        headers: new Headers({ [name]: "order-7" }),
        body: new TextEncoder().encode("payload"),
      });
      assert.equal(await text(response.body), "hello", `${name}: sent again on a fresh connection`);
    }
    assert.equal(server.accepted, 4);
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool notices a server closing an idle connection", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write(OK_HELLO);
    // Return: the connection is closed with no Connection: close warning.
  });
  const pool = poolFor(server.port);
  try {
    await text((await pool.request(get("/"))).body);
    await eventually(() => pool.stats.open === 0, "the pool drops the closed idle connection");
    assert.equal(await text((await pool.request(get("/"))).body), "hello");
    assert.equal(pool.stats.reused, 0);
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool rejects a garbage response as a protocol error and drops the connection", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write("SSH-2.0-OpenSSH_9.6\r\n\r\n");
    await reader.drain();
  });
  const pool = poolFor(server.port);
  try {
    await assert.rejects(
      pool.request(get("/")),
      isUpstreamError("protocol", /malformed status line "SSH-2.0/),
    );
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool rejects a malformed header line as a protocol error", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write("HTTP/1.1 200 OK\r\nthis is not a header\r\n\r\n");
    await reader.drain();
  });
  const pool = poolFor(server.port);
  try {
    await assert.rejects(
      pool.request(get("/")),
      isUpstreamError("protocol", /malformed header line/),
    );
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool reads a response head delivered one byte at a time", async () => {
  const response = "HTTP/1.1 200 OK\r\nX-Slow: yes\r\nContent-Length: 5\r\n\r\nhello";
  const server = new RawServer(async (reader) => {
    for (let n = 0; n < 2; n++) {
      if (await reader.head() === null) return;
      for (const byte of new TextEncoder().encode(response)) {
        await reader.write(new Uint8Array([byte]));
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
  });
  const pool = poolFor(server.port);
  try {
    for (let n = 0; n < 2; n++) {
      const res = await pool.request(get("/"));
      assert.equal(res.headers.get("x-slow"), "yes");
      assert.equal(await text(res.body), "hello");
    }
    assert.equal(pool.stats.reused, 1);
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool decodes chunked bodies with extensions and trailers, split anywhere", async () => {
  const body =
    "4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-T: 1\r\n\r\n";
  const response =
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Expires\r\n\r\n${body}`;
  const server = new RawServer(async (reader) => {
    for (let split = 1; split < 40; split += 7) {
      if (await reader.head() === null) return;
      for (let at = 0; at < response.length; at += split) {
        await reader.write(response.slice(at, at + split));
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
  });
  const pool = poolFor(server.port);
  try {
    for (let split = 1; split < 40; split += 7) {
      const res = await pool.request(get("/"));
      assert.equal(res.headers.has("trailer"), false);
      assert.equal(
        await text(res.body),
        "Wikipedia in \r\n\r\nchunks.",
        `split every ${split} bytes`,
      );
    }
    assert.equal(pool.stats.created, 1, "chunked responses leave the connection reusable");
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool reads an HTTP/1.0 body until close and does not reuse the connection", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    await reader.write("close-");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await reader.write("delimited");
  });
  const pool = poolFor(server.port);
  try {
    const res = await pool.request(get("/"));
    assert.equal(res.bodyBytes, undefined);
    assert.equal(await text(res.body), "close-delimited");
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool rejects a transfer coding other than chunked and drops the connection", async () => {
  // The first connection answers gzip-coded (its body would run until close);
  // any later one answers properly: the next request must not reuse the first.
  const server = new RawServer(async (reader, index) => {
    if (await reader.head() === null) return;
    if (index === 0) {
      await reader.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b");
      await reader.drain();
      return;
    }
    await reader.write(OK_HELLO);
    await reader.drain();
  });
  const pool = poolFor(server.port);
  try {
    await assert.rejects(
      pool.request(get("/")),
      isUpstreamError("protocol", /unsupported transfer encoding "gzip"/),
    );
    assert.equal(pool.stats.open, 0, "the connection is dropped");
    assert.equal(await text((await pool.request(get("/"))).body), "hello");
    assert.equal(pool.stats.reused, 0);
    assert.equal(server.accepted, 2);
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool finds a final head split across reads after a large interim response", async () => {
  const server = new RawServer(async (reader) => {
    if (await reader.head() === null) return;
    // The interim head fills most of the read buffer, so the next read compacts it.
    await reader.write(`HTTP/1.1 103 Early Hints\r\nLink: </${"a".repeat(14_000)}>\r\n\r\n`);
    await reader.write("HTTP/1.1 200 OK\r\nContent-Le");
    await new Promise((r) => setTimeout(r, 50));
    await reader.write("ngth: 2\r\n\r\nok");
    await reader.head();
  });
  const pool = poolFor(server.port);
  try {
    const res = await pool.request(get("/"));
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), "ok");
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool skips 100 Continue and 103 Early Hints before the final response", async () => {
  const server = new RawServer(async (reader) => {
    const head = await reader.head();
    if (head === null) return;
    await reader.write("HTTP/1.1 100 Continue\r\n\r\n");
    const body = await reader.body(contentLengthOf(head));
    await reader.write("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
    const reply = `got ${body.length} expect=${/expect: 100-continue/i.test(head)}`;
    await reader.write(`HTTP/1.1 201 Created\r\nContent-Length: ${reply.length}\r\n\r\n${reply}`);
    await reader.head();
  });
  const pool = poolFor(server.port);
  try {
    const res = await pool.request({
      ...get("/upload"),
      method: "POST",
      headers: new Headers({ expect: "100-continue" }),
      body: new Uint8Array(1000),
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.has("link"), false, "interim headers are not merged");
    assert.equal(await text(res.body), "got 1000 expect=true");
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool counts interim heads toward maxHeaderBytes, so endless 1xx answers end", async () => {
  let stop = false;
  const server = new RawServer(async (reader) => {
    if (await reader.head() === null) return;
    // A server that answers 102 Processing again and again, never a final head.
    while (!stop) {
      try {
        await reader.write("HTTP/1.1 102 Processing\r\n\r\n".repeat(20));
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  const pool = poolFor(server.port, { maxHeaderBytes: 4096 });
  try {
    await assert.rejects(
      pool.request(get("/")),
      isUpstreamError("protocol", /head larger than 4096 bytes with the \d+ bytes of 1xx heads/),
    );
    assert.equal(pool.stats.open, 0);
  } finally {
    stop = true;
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool rejects a response head over maxHeaderBytes", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write(
      `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(4000)}\r\nContent-Length: 0\r\n\r\n`,
    );
    await reader.drain();
  });
  const pool = poolFor(server.port, { maxHeaderBytes: 1024 });
  try {
    await assert.rejects(
      pool.request(get("/")),
      isUpstreamError("protocol", /head larger than 1024 bytes/),
    );
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("the Proxy's transport takes a response head of 200 KB, and refuses one over 256 KiB", async () => {
  const big = "a".repeat(200_000);
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write(`HTTP/1.1 200 OK\r\nX-Big: ${big}\r\nContent-Length: 5\r\n\r\nhello`);
    await reader.head();
    await reader.write(
      `HTTP/1.1 200 OK\r\nX-Big: ${big}\r\nX-More: ${"b".repeat(100_000)}\r\n\r\n`,
    );
    await reader.drain();
  });
  const transport = http1Transport(`http://127.0.0.1:${server.port}`);
  try {
    const res = await transport.request(get("/"));
    assert.equal(res.headers.get("x-big"), big);
    assert.equal(await text(res.body), "hello");
    await assert.rejects(
      transport.request(get("/")),
      isUpstreamError("protocol", /head larger than 262144 bytes/),
    );
  } finally {
    transport.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool errors the body stream on an invalid chunk size", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await reader.write("nope\r\n");
    await reader.drain();
  });
  const pool = poolFor(server.port);
  try {
    const res = await pool.request(get("/"));
    await assert.rejects(
      text(res.body),
      isUpstreamError("protocol", /invalid chunk size line "nope"/),
    );
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool rejects a small response whose server closes before Content-Length bytes", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await reader.write(" some");
  });
  const pool = poolFor(server.port);
  try {
    // Small bodies are read whole before the response is handed over.
    await assert.rejects(
      pool.request(get("/")),
      isUpstreamError("body", /after 9 of 100 body bytes/),
    );
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool errors the body stream when the server closes before Content-Length bytes", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nonly");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await reader.write(" some");
  });
  const pool = poolFor(server.port);
  try {
    const res = await pool.request(get("/"));
    await assert.rejects(text(res.body), isUpstreamError("closed", /after 9 of 100000 body bytes/));
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool rejects when the server closes without answering a fresh connection", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
  });
  const pool = poolFor(server.port);
  try {
    await assert.rejects(
      pool.request(get("/")),
      isUpstreamError("closed", /before sending a response/),
    );
    assert.equal(pool.stats.created, 1, "a fresh connection is not retried");
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool gives up a TLS handshake the server never answers after tlsHandshakeTimeoutMs", async () => {
  // A plain HTTP server behind an https:// URL waits for a request head that never comes.
  const server = new RawServer(async (reader) => {
    await reader.head();
  });
  const pool = new Http1Pool(
    { hostname: "127.0.0.1", port: server.port, tls: true },
    { tlsHandshakeTimeoutMs: 200 },
  );
  try {
    const started = performance.now();
    await assert.rejects(
      pool.request(get("/")),
      isUpstreamError("timeout", /no TLS handshake after 200 ms/),
    );
    assert.ok(performance.now() - started < 5000, "not the 30 s connect timeout");
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool does not reuse a connection after Connection: close", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    await reader.drain();
  });
  const pool = poolFor(server.port);
  try {
    for (let i = 0; i < 2; i++) assert.equal(await text((await pool.request(get("/"))).body), "ok");
    assert.equal(pool.stats.created, 2);
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool returns an early response while the upload is still going, then drops the connection", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!");
    await reader.drain();
  });
  const pool = poolFor(server.port);
  try {
    const res = await pool.request({
      ...get("/"),
      method: "POST",
      body: patternStream(10 * 1024 * 1024),
    });
    assert.equal(res.status, 413);
    assert.equal(await text(res.body), "too big!");
    await eventually(() => pool.stats.open === 0, "the half-sent connection is dropped");
  } finally {
    pool.close();
    await server.close();
    await settle();
  }
});

Deno.test("pool rejects unsolicited bytes after a response by dropping the connection", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write(`${OK_HELLO}EXTRA`);
    await reader.drain();
  });
  const pool = poolFor(server.port);
  try {
    assert.equal(await text((await pool.request(get("/"))).body), "hello");
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool drops an idle connection on which the server sends unsolicited bytes", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.write(OK_HELLO);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await reader.write("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
    await reader.drain();
  });
  const pool = poolFor(server.port);
  try {
    assert.equal(await text((await pool.request(get("/"))).body), "hello");
    await eventually(() => pool.stats.open === 0, "the pool drops the connection");
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool aborts an upload in progress and cancels the client's body stream", async () => {
  const server = new RawServer(async (reader) => {
    await reader.head();
    await reader.drain();
  });
  const pool = poolFor(server.port);
  const controller = new AbortController();
  let cancelledWith: unknown;
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(stream) {
      if (pulls++ === 3) {
        controller.abort();
        await new Promise(() => {}); // a client that stalls
      }
      stream.enqueue(new Uint8Array(1000));
    },
    cancel(reason) {
      cancelledWith = reason;
    },
  });
  try {
    await assert.rejects(
      pool.request({ ...get("/"), method: "POST", body, signal: controller.signal }),
      isUpstreamError("aborted"),
    );
    assert.ok(cancelledWith instanceof UpstreamError, "the body stream was cancelled");
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await server.close();
  }
});
