import assert from "node:assert/strict";
import {
  parseRequestHead,
  type RequestHead,
  RequestHeadError,
} from "../../../server/httpserver/http1/request_head.ts";
import { findHeadEnd } from "../../../filters/proxy/http1_parser.ts";

const encoder = new TextEncoder();

/** Parses a head the way the server does: `findHeadEnd` locates it first. */
function parse(text: string): RequestHead {
  const buf = encoder.encode(text);
  const end = findHeadEnd(buf, 0, buf.length);
  assert.equal(end, buf.length, "the text should be exactly one head");
  return parseRequestHead(buf, 0, end);
}

/** Parses raw bytes whose head ends at the end of the array. */
function parseBytes(bytes: Uint8Array): RequestHead {
  return parseRequestHead(bytes, 0, bytes.length);
}

/** Asserts that parsing `text` is refused with `status` and a message matching `message`. */
function assertRefused(text: string, status: number, message?: RegExp): void {
  assert.throws(() => parse(text), (error) => {
    assert.ok(error instanceof RequestHeadError, `expected RequestHeadError, got ${error}`);
    assert.equal(error.status, status, `status for ${JSON.stringify(text)}: ${error.message}`);
    assert.equal(error.name, "RequestHeadError");
    if (message) assert.match(error.message, message);
    return true;
  });
}

Deno.test("parseRequestHead reads an origin-form request without a query", () => {
  const head = parse("GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
  assert.equal(head.method, "GET");
  assert.equal(head.path, "/index.html");
  assert.equal(head.query, "");
  assert.equal(head.host, "example.com");
  assert.equal(head.http10, false);
  assert.equal(head.contentLength, 0);
  assert.equal(head.chunked, false);
  assert.equal(head.close, false);
  assert.equal(head.expectContinue, false);
  assert.equal(head.headers.get("accept"), "*/*");
  assert.equal(head.headers.get("host"), "example.com");
});

Deno.test("parseRequestHead splits the query off an origin-form target", () => {
  const head = parse("GET /search?q=deno&page=2 HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.equal(head.path, "/search");
  assert.equal(head.query, "q=deno&page=2");
});

Deno.test("parseRequestHead keeps an empty query after a bare '?'", () => {
  const head = parse("GET /x? HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.equal(head.path, "/x");
  assert.equal(head.query, "");
});

Deno.test("parseRequestHead keeps later '?' characters in the query", () => {
  const head = parse("GET /a?b=?c HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.equal(head.path, "/a");
  assert.equal(head.query, "b=?c");
});

Deno.test("parseRequestHead takes the host of an absolute-form target over the Host header", () => {
  const head = parse(
    "GET http://upstream.example:8080/p/q?x=1 HTTP/1.1\r\nHost: other.example\r\n\r\n",
  );
  assert.equal(head.host, "upstream.example:8080");
  assert.equal(head.path, "/p/q");
  assert.equal(head.query, "x=1");
  // The header itself is kept as received.
  assert.equal(head.headers.get("host"), "other.example");
});

Deno.test("parseRequestHead accepts an absolute-form target with an https scheme in any case", () => {
  const head = parse("GET HTTPS://Example.com/a HTTP/1.1\r\nHost: Example.com\r\n\r\n");
  assert.equal(head.host, "Example.com");
  assert.equal(head.path, "/a");
});

Deno.test("parseRequestHead gives an absolute-form target without a path the path '/'", () => {
  const head = parse("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  assert.equal(head.host, "example.com");
  assert.equal(head.path, "/");
  assert.equal(head.query, "");
});

Deno.test({
  name: "parseRequestHead gives an absolute-form target with only a query the path '/'",
  fn() {
    const head = parse("GET http://example.com?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert.equal(head.host, "example.com");
    assert.equal(head.path, "/");
    assert.equal(head.query, "x=1");
  },
});

Deno.test("parseRequestHead refuses an absolute-form target of another scheme", () => {
  assertRefused("GET ftp://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, /request target/);
});

Deno.test("parseRequestHead refuses an absolute-form target with a fragment", () => {
  assertRefused("GET http://example.com/#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400, /request target/);
});

Deno.test("parseRequestHead refuses an origin-form target with a fragment", () => {
  // Forwarded as sent, "/admin#x" missed an "/admin" rule and reached the backend as "/admin".
  assertRefused("GET /admin#x HTTP/1.1\r\nHost: a\r\n\r\n", 400, /request target/);
  assertRefused("GET /a?b=1#x HTTP/1.1\r\nHost: a\r\n\r\n", 400, /request target/);
});

Deno.test("parseRequestHead refuses an authority-form target outside CONNECT support", () => {
  assertRefused("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400);
});

Deno.test("parseRequestHead accepts OPTIONS * with the path '*'", () => {
  const head = parse("OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n");
  assert.equal(head.method, "OPTIONS");
  assert.equal(head.path, "*");
  assert.equal(head.query, "");
  assert.equal(head.host, "example.com");
});

Deno.test("parseRequestHead refuses '*' as the target of any method but OPTIONS", () => {
  assertRefused("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, /request target/);
});

Deno.test("parseRequestHead skips empty lines before the request line", () => {
  // One CRLF, as the server sees it after a client's stray CRLF following a body.
  const head = parse("\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.equal(head.method, "GET");
  assert.equal(head.path, "/after");
  // Several, when the caller bounds the head itself.
  const many = parseBytes(encoder.encode("\r\n\n\r\nPOST /many HTTP/1.1\r\nHost: a\r\n\r\n"));
  assert.equal(many.method, "POST");
  assert.equal(many.path, "/many");
});

Deno.test("parseRequestHead parses a head that starts at an offset in a larger buffer", () => {
  const first = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n";
  const second = "GET /two?z HTTP/1.1\r\nHost: b\r\n\r\n";
  const buf = encoder.encode(first + second + "garbage");
  const end = findHeadEnd(buf, first.length, buf.length);
  const head = parseRequestHead(buf, first.length, end);
  assert.equal(head.path, "/two");
  assert.equal(head.query, "z");
  assert.equal(head.host, "b");
});

Deno.test("parseRequestHead accepts bare LF line endings", () => {
  const head = parse("GET /lf HTTP/1.1\nHost: a\nX-Y: z\n\n");
  assert.equal(head.path, "/lf");
  assert.equal(head.host, "a");
  assert.equal(head.headers.get("x-y"), "z");
});

Deno.test("parseRequestHead trims spaces and tabs around header values", () => {
  const head = parse("GET / HTTP/1.1\r\nHost: \t a \t\r\nX-Empty:\r\nX-Inner: a  b\r\n\r\n");
  assert.equal(head.host, "a");
  assert.equal(head.headers.get("x-empty"), "");
  assert.equal(head.headers.get("x-inner"), "a  b");
});

Deno.test("parseRequestHead keeps repeated headers as a list", () => {
  const head = parse("GET / HTTP/1.1\r\nHost: a\r\nAccept: a/b\r\nAccept: c/d\r\n\r\n");
  assert.equal(head.headers.get("accept"), "a/b, c/d");
});

Deno.test("parseRequestHead marks HTTP/1.0 requests and closes them by default", () => {
  const head = parse("GET / HTTP/1.0\r\n\r\n");
  assert.equal(head.http10, true);
  assert.equal(head.close, true);
  // Host is optional in HTTP/1.0.
  assert.equal(head.host, "");
});

Deno.test("parseRequestHead keeps HTTP/1.0 connections open on Connection: keep-alive", () => {
  const head = parse("GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n");
  assert.equal(head.http10, true);
  assert.equal(head.close, false);
  assert.equal(head.host, "a");
});

Deno.test("parseRequestHead keeps HTTP/1.1 connections open unless told to close", () => {
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").close, false);
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n").close, false);
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").close, true);
  assert.equal(
    parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n").close,
    true,
  );
  // A token split across two Connection headers still counts.
  assert.equal(
    parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: te\r\nConnection: close\r\n\r\n").close,
    true,
  );
  // "closed" is not "close".
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n").close, false);
});

Deno.test("parseRequestHead refuses an HTTP/1.1 request without Host", () => {
  assertRefused("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, /missing Host/);
});

Deno.test({
  name: "parseRequestHead refuses an HTTP/1.1 absolute-form request without Host",
  fn() {
    assertRefused("GET http://example.com/ HTTP/1.1\r\n\r\n", 400, /missing Host/);
  },
});

Deno.test("parseRequestHead accepts an empty Host", () => {
  assert.equal(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n").host, "");
});

Deno.test("parseRequestHead refuses two Host headers, whatever their case", () => {
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, /more than one Host/);
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n", 400, /more than one Host/);
});

Deno.test("parseRequestHead refuses obsolete line folding", () => {
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n", 400, /folding/);
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n\ttwo\r\n\r\n", 400, /folding/);
});

Deno.test("parseRequestHead refuses a header line right after the request line that starts with a space", () => {
  assertRefused("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, /folding/);
});

Deno.test("parseRequestHead refuses methods that are not tokens", () => {
  assertRefused("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, /invalid method/);
  assertRefused('GE"T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, /invalid method/);
  assertRefused("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
});

Deno.test("parseRequestHead accepts extension methods that are tokens", () => {
  assert.equal(parse("PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n").method, "PURGE");
  assert.equal(parse("M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n").method, "M-SEARCH");
  // Methods are case-sensitive tokens: a lower-case one is passed on as is.
  assert.equal(parse("get /x HTTP/1.1\r\nHost: a\r\n\r\n").method, "get");
});

Deno.test("parseRequestHead refuses malformed request lines", () => {
  assertRefused("GET /\r\nHost: a\r\n\r\n", 400, /malformed request line/);
  assertRefused(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, /malformed request line/);
  assertRefused("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, /malformed request line/);
  assertRefused("GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400, /malformed request line/);
  assertRefused("GET / \r\nHost: a\r\n\r\n", 400, /malformed request line/);
});

Deno.test("parseRequestHead refuses targets with control characters, spaces or DEL", () => {
  for (const target of ["/a\x00b", "/a\x01b", "/a\x7fb", "/a\x1bb"]) {
    assertRefused(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`, 400, /request target/);
  }
});

Deno.test("parseRequestHead refuses a target that is neither origin, absolute nor asterisk form", () => {
  assertRefused("GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400, /request target/);
});

Deno.test("parseRequestHead answers 505 to HTTP versions other than 1.x", () => {
  assertRefused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, /2\.0 is not supported/);
  assertRefused("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
  assertRefused("PRI * HTTP/2.0\r\n\r\n", 505);
});

Deno.test("parseRequestHead reads a later HTTP/1.x as HTTP/1.1, as Go and nginx do", () => {
  const head = parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n");
  assert.equal(head.http10, false);
  assert.equal(head.close, false);
});

Deno.test("parseRequestHead answers 400 to a version that is not HTTP/x.y", () => {
  for (const version of ["HTTP/1.1x", "http/1.1", "HTTP/11", "HTTP/1", "FOO/1.1", "HTTP/1.1.1"]) {
    assertRefused(`GET / ${version}\r\nHost: a\r\n\r\n`, 400, /malformed request line/);
  }
});

Deno.test("parseRequestHead reads a Content-Length", () => {
  const head = parse("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
  assert.equal(head.contentLength, 42);
  assert.equal(head.chunked, false);
});

Deno.test("parseRequestHead accepts a Content-Length list of equal values", () => {
  assert.equal(
    parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n").contentLength,
    5,
  );
  assert.equal(
    parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n")
      .contentLength,
    5,
  );
});

Deno.test("parseRequestHead refuses conflicting or invalid Content-Length", () => {
  assertRefused(
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
    400,
    /Content-Length/,
  );
  assertRefused(
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    400,
    /^conflicting Content-Length fields: 5 and 6$/,
  );
  for (const value of ["-1", "+5", "5a", "0x10", "", "1 2", "99999999999999999999"]) {
    assertRefused(
      `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${value}\r\n\r\n`,
      400,
      /Content-Length/,
    );
  }
});

Deno.test("parseRequestHead reads a chunked body as contentLength -1", () => {
  const head = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
  assert.equal(head.chunked, true);
  assert.equal(head.contentLength, -1);
});

Deno.test("parseRequestHead refuses Content-Length together with Transfer-Encoding", () => {
  assertRefused(
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    400,
    /both Content-Length and Transfer-Encoding/,
  );
  assertRefused(
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    400,
    /both/,
  );
});

Deno.test("parseRequestHead refuses a Transfer-Encoding that does not end with chunked", () => {
  for (const value of ["gzip", "chunked, gzip", "identity", ""]) {
    assertRefused(
      `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${value}\r\n\r\n`,
      400,
      /does not end with chunked/,
    );
  }
});

Deno.test("parseRequestHead answers 501 to codings before chunked", () => {
  assertRefused(
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    501,
    /unsupported Transfer-Encoding/,
  );
  // The same list split over two headers.
  assertRefused(
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
    501,
  );
});

Deno.test("parseRequestHead refuses Transfer-Encoding in an HTTP/1.0 request", () => {
  assertRefused(
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    400,
    /Transfer-Encoding in an HTTP\/1\.0 request/,
  );
});

Deno.test("parseRequestHead flags Expect: 100-continue in any case", () => {
  const head = parse(
    "PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n",
  );
  assert.equal(head.expectContinue, true);
  assert.equal(head.contentLength, 3);
});

Deno.test("parseRequestHead answers 417 to other expectations", () => {
  assertRefused(
    "PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 200-ok\r\n\r\n",
    417,
    /unsupported Expect/,
  );
});

Deno.test("parseRequestHead refuses header names that are not tokens", () => {
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400, /invalid header/);
  assertRefused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, /invalid header/);
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", 400, /invalid header/);
});

Deno.test("parseRequestHead refuses header lines without a name or colon", () => {
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\n: novalue\r\n\r\n", 400, /malformed header line/);
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, /malformed header line/);
});

Deno.test("parseRequestHead refuses a header value with a bare CR or NUL", () => {
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, /invalid header/);
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, /invalid header/);
});

Deno.test("parseRequestHead keeps non-ASCII header bytes as latin1 characters", () => {
  // "é" in UTF-8 is C3 A9; each byte becomes one character, as Headers expects.
  const utf8 = parse("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\u00e9\r\n\r\n");
  assert.equal(utf8.headers.get("x-name"), "caf\u00c3\u00a9");
  // A lone latin1 byte (invalid UTF-8) is kept as that byte's character.
  const raw = new Uint8Array([
    ...encoder.encode("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf"),
    0xe9,
    ...encoder.encode("\r\n\r\n"),
  ]);
  assert.equal(parseBytes(raw).headers.get("x-name"), "caf\u00e9");
  const bytes = [...parseBytes(raw).headers.get("x-name")!].map((c) => c.charCodeAt(0));
  assert.deepEqual(bytes, [0x63, 0x61, 0x66, 0xe9]);
});

Deno.test("parseRequestHead refuses a request line that starts with a byte order mark", () => {
  assertRefused("\ufeffGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
});

Deno.test("parseRequestHead truncates long quoted text in error messages", () => {
  assert.throws(
    () => parse(`GET /${"x".repeat(200)} HTTP/9.x\r\nHost: a\r\n\r\n`),
    (error) => {
      assert.ok(error instanceof RequestHeadError);
      assert.ok(error.message.length < 120, error.message);
      assert.match(error.message, /\.\.\."$/);
      return true;
    },
  );
});

Deno.test("parseRequestHead is not confused by the previous parse's headers", () => {
  // The parser reuses scratch arrays; a short head after a long one must not inherit.
  parse("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
  const head = parse("GET / HTTP/1.1\r\nHost: b\r\n\r\n");
  assert.deepEqual([...head.headers], [["host", "b"]]);
});

Deno.test("parseRequestHead refuses a NUL or a bare CR in a header value, naming the field", () => {
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\0b\r\n\r\n", 400, /invalid header "X-Bad"/);
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX-Cr: a\rb\r\n\r\n", 400, /invalid header "X-Cr"/);
  // A CR right before the line's own CRLF is trailing whitespace, as for web Headers.
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nX-T: v\r\r\n\r\n").headers.get("x-t"), "v");
});

Deno.test("parseRequestHead keeps names lower-case and fields in arrival order", () => {
  const head = parse("GET / HTTP/1.1\r\nHost: a\r\nX-B: 1\r\nX-A: 2\r\nx-b: 3\r\n\r\n");
  const fields: string[] = [];
  head.headers.forEachField((value, name) => fields.push(`${name}=${value}`));
  assert.deepEqual(fields, ["host=a", "x-b=1", "x-a=2", "x-b=3"]);
  assert.equal(head.headers.get("X-B"), "1, 3");
});

Deno.test("parseRequestHead refuses a Host (or absolute-form authority) that is not host[:port]", () => {
  for (const host of ["a b", "a/b", "u@h", "a:b:c", "é.com", "h\tx"]) {
    assertRefused(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 400, /invalid Host/);
  }
  assertRefused("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, /invalid Host/);
  for (const host of ["example.com", "example.com:8080", "127.0.0.1:80", "[::1]:8080", "a_b-c~d"]) {
    assert.equal(parse(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).host, host);
  }
  // An IPv6 address without brackets has no port, and Go's server takes it.
  for (const host of ["::1", "2001:db8::7", "fe80::1%25eth0", "::ffff:192.0.2.1"]) {
    assert.equal(parse(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).host, host);
  }
  for (const host of ["::1:", "1::2::3", "::g", ":::"]) {
    assertRefused(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 400, /invalid Host/);
  }
  // An empty Host is allowed (RFC 9112 section 3.2), and HTTP/1.0 may send none.
  assert.equal(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n").host, "");
  assert.equal(parse("GET / HTTP/1.0\r\n\r\n").host, "");
});

Deno.test("parseRequestHead escapes the bytes of an unescaped UTF-8 target, as Go's URL writes them", () => {
  const head = parse("GET /café/ü?q=é HTTP/1.1\r\nHost: example.com\r\n\r\n");
  assert.equal(head.path, "/caf%C3%A9/%C3%BC");
  assert.equal(head.query, "q=%C3%A9");
  // Bytes that are not UTF-8 are escaped one by one too.
  const latin1 = Uint8Array.from([
    ...encoder.encode("GET /a"),
    0xe9,
    ...encoder.encode(" HTTP/1.1\r\nHost: h\r\n\r\n"),
  ]);
  assert.equal(parseBytes(latin1).path, "/a%E9");
});

/** A head with one `X-Val: a<byte>b` field, as raw bytes. */
function headWithValueByte(byte: number, before: number[] = []): Uint8Array {
  return new Uint8Array([
    ...encoder.encode("GET / HTTP/1.1\r\nHost: a\r\nX-Val: a"),
    ...before,
    byte,
    ...encoder.encode("b\r\nAccept: */*\r\n\r\n"),
  ]);
}

Deno.test("parseRequestHead refuses every control char but HTAB in a header value, as Go does", () => {
  for (let byte = 0; byte < 256; byte++) {
    if (byte === 10) continue; // An LF ends the line: a line without a colon follows.
    const refused = (byte < 0x20 && byte !== 9) || byte === 0x7f;
    // Once in an ASCII head, once in a head with a byte past ASCII (read as latin1).
    for (const before of [[], [0xe9]]) {
      const bytes = headWithValueByte(byte, before);
      const what = `byte 0x${byte.toString(16)} after [${before}]`;
      if (refused) {
        assert.throws(() => parseBytes(bytes), (error) => {
          assert.ok(error instanceof RequestHeadError, what);
          assert.equal(error.status, 400, what);
          assert.match(error.message, /^invalid header "X-Val": a control character/, what);
          return true;
        });
      } else {
        const value = parseBytes(bytes).headers.get("x-val");
        assert.equal(value, String.fromCharCode(0x61, ...before, byte, 0x62), what);
      }
    }
  }
});

Deno.test("parseRequestHead names the field with the control char, not the first one", () => {
  assertRefused(
    "GET / HTTP/1.1\r\nHost: a\r\nX-Ok: fine\tvalue\r\nX-Del: a\x7fb\r\nX-Later: c\r\n\r\n",
    400,
    /invalid header "X-Del"/,
  );
  // A known name is named as it is stored.
  assertRefused("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400, /invalid header "host"/);
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n", 400, /invalid header "X"/);
  // At either end of a value too, where spaces and tabs are trimmed.
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX: \x0bv\r\n\r\n", 400, /invalid header "X"/);
  assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX: v\x1f\r\n\r\n", 400, /invalid header "X"/);
});

Deno.test("parseRequestHead keeps tabs and obs-text in header values", () => {
  const head = parse("GET / HTTP/1.1\r\nHost: a\r\nX-Tab: a\tb\r\nX-Obs: \u00ff\r\n\r\n");
  assert.equal(head.headers.get("x-tab"), "a\tb");
  // UTF-8 "ÿ" is C3 BF: two obs-text bytes.
  assert.equal(head.headers.get("x-obs"), "\u00c3\u00bf");
});

Deno.test("parseRequestHead refuses a bad Host after good ones and takes a bare IPv6 address", () => {
  for (let i = 0; i < 3; i++) {
    assert.equal(parse("GET / HTTP/1.1\r\nHost: a.example:80\r\n\r\n").host, "a.example:80");
  }
  assertRefused("GET / HTTP/1.1\r\nHost: a.example:80/x\r\n\r\n", 400, /invalid Host/);
  assertRefused("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, /invalid Host/);
  assert.equal(parse("GET / HTTP/1.1\r\nHost: ::1\r\n\r\n").host, "::1");
  assertRefused("GET / HTTP/1.1\r\nHost: ::1:x\r\n\r\n", 400, /invalid Host/);
});
