import assert from "node:assert/strict";
import {
  findHeadEnd,
  findLineEnd,
  hasToken,
  parseChunkSize,
  parseResponseHead,
  type ResponseHead,
} from "../../../filters/proxy/http1_parser.ts";
import { UpstreamError } from "../../../filters/proxy/upstream_error.ts";

const encoder = new TextEncoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Parses a complete head given as text (must end with the blank line). */
function parse(text: string): ResponseHead {
  const buf = bytes(text);
  const end = findHeadEnd(buf, 0, buf.length);
  assert.equal(end, buf.length, "head end should be the end of the text");
  return parseResponseHead(buf, 0, end);
}

function assertProtocolError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${error}`);
    assert.equal(error.kind, "protocol");
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("findHeadEnd finds the blank line after CRLF headers", () => {
  const buf = bytes("HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody");
  assert.equal(findHeadEnd(buf, 0, buf.length), buf.length - 4);
});

Deno.test("findHeadEnd accepts bare LF line endings", () => {
  const buf = bytes("HTTP/1.1 200 OK\nA: b\n\nbody");
  assert.equal(findHeadEnd(buf, 0, buf.length), buf.length - 4);
});

Deno.test("findHeadEnd returns -1 until the whole blank line is there", () => {
  const text = "HTTP/1.1 200 OK\r\nA: b\r\n\r\n";
  const buf = bytes(text);
  for (let end = 0; end < buf.length; end++) {
    assert.equal(findHeadEnd(buf, 0, end), -1, `with ${end} bytes`);
  }
  assert.equal(findHeadEnd(buf, 0, buf.length), buf.length);
});

Deno.test("findHeadEnd ignores bytes past the end offset", () => {
  const buf = bytes("HTTP/1.1 200 OK\r\nA: b\r\n\r\n");
  // A stale blank line beyond `end` must not count.
  assert.equal(findHeadEnd(buf, 0, 10), -1);
});

Deno.test("findHeadEnd resumes from a later offset", () => {
  const buf = bytes("HTTP/1.1 200 OK\r\nA: b\r\n\r\n");
  assert.equal(findHeadEnd(buf, buf.length - 7, buf.length), buf.length);
});

Deno.test("findLineEnd finds LF only within range", () => {
  const buf = bytes("abc\ndef\n");
  assert.equal(findLineEnd(buf, 0, 8), 3);
  assert.equal(findLineEnd(buf, 4, 8), 7);
  assert.equal(findLineEnd(buf, 4, 7), -1);
});

Deno.test("parseResponseHead reads status, headers and framing", () => {
  const head = parse(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nX-Multi: a\r\nX-Multi: b\r\n\r\n",
  );
  assert.equal(head.status, 200);
  assert.equal(head.http10, false);
  assert.equal(head.contentLength, 12);
  assert.equal(head.chunked, false);
  assert.equal(head.close, false);
  assert.equal(head.headers.get("content-type"), "text/plain");
  assert.equal(head.headers.get("content-length"), "12");
  assert.equal(head.headers.get("x-multi"), "a, b");
});

Deno.test("parseResponseHead accepts a status line without reason phrase", () => {
  assert.equal(parse("HTTP/1.1 404\r\n\r\n").status, 404);
  assert.equal(parse("HTTP/1.1 503 \r\n\r\n").status, 503);
});

Deno.test("parseResponseHead trims optional whitespace around values", () => {
  const head = parse("HTTP/1.1 200 OK\r\nX-A:   spaced value \t\r\nX-B:\r\n\r\n");
  assert.equal(head.headers.get("x-a"), "spaced value");
  assert.equal(head.headers.get("x-b"), "");
});

Deno.test("parseResponseHead removes hop-by-hop headers and those Connection lists", () => {
  const head = parse(
    "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n" +
      "X-Secret: 1\r\nProxy-Authenticate: Basic\r\nUpgrade: h2c\r\nTrailer: X-T\r\nX-Kept: yes\r\n" +
      "Content-Length: 0\r\n\r\n",
  );
  assert.deepEqual([...head.headers], [["content-length", "0"], ["x-kept", "yes"]]);
});

Deno.test("parseResponseHead treats chunked Transfer-Encoding as overriding Content-Length", () => {
  const head = parse(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n",
  );
  assert.equal(head.chunked, true);
  assert.equal(head.contentLength, -1);
  assert.equal(head.close, true, "both framing headers: do not reuse the connection");
  assert.equal(head.headers.has("content-length"), false);
  assert.equal(head.headers.has("transfer-encoding"), false);
});

Deno.test("parseResponseHead does not keep an HTTP/1.0 connection whose answer came chunked", () => {
  const head = parse(
    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
  );
  assert.equal(head.chunked, true);
  assert.equal(head.close, true, "RFC 9112 section 6.1: faulty framing, close after it");
});

Deno.test("parseResponseHead takes chunked in any case, alone or in a repeated field", () => {
  for (const value of ["chunked", "Chunked", "CHUNKED", " chunked ", "chunked,", ", chunked"]) {
    const head = parse(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${value}\r\n\r\n`);
    assert.equal(head.chunked, true, value);
    assert.equal(head.close, false, value);
  }
});

Deno.test("parseResponseHead rejects a transfer coding other than chunked, as Go's client", () => {
  for (
    const te of [
      "gzip",
      "identity",
      "chunked, gzip",
      "gzip, chunked",
      "chunked, chunked",
      "gzip\r\nTransfer-Encoding: Chunked",
      "chunked\r\nTransfer-Encoding: chunked",
    ]
  ) {
    for (const version of ["1.1", "1.0"]) {
      assertProtocolError(
        () => parse(`HTTP/${version} 200 OK\r\nTransfer-Encoding: ${te}\r\n\r\n`),
        /unsupported transfer encoding/,
      );
    }
  }
  assertProtocolError(
    () => parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip\r\n\r\n"),
    /unsupported transfer encoding "gzip"/,
  );
});

Deno.test("parseResponseHead accepts repeated equal Content-Length values", () => {
  assert.equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n").contentLength, 5);
  assert.equal(
    parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").contentLength,
    5,
  );
});

Deno.test("parseResponseHead rejects conflicting or malformed Content-Length", () => {
  for (const value of ["5, 6", "-1", "abc", "1 2", "", "0x10", "99999999999999999999"]) {
    assertProtocolError(
      () => parse(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`),
      /Content-Length/,
    );
  }
  assertProtocolError(
    () => parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
    /Content-Length/,
  );
});

Deno.test("parseResponseHead keeps HTTP/1.0 connections only with keep-alive", () => {
  const plain = parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
  assert.equal(plain.http10, true);
  assert.equal(plain.close, true);
  const kept = parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n");
  assert.equal(kept.close, false);
});

Deno.test("parseResponseHead honours Connection: close on HTTP/1.1", () => {
  assert.equal(parse("HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n").close, true);
  assert.equal(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n").close, false);
});

Deno.test("parseResponseHead unfolds obsolete line folding into a space", () => {
  const head = parse("HTTP/1.1 200 OK\r\nX-Folded: first\r\n  second\r\n\tthird\r\n\r\n");
  assert.equal(head.headers.get("x-folded"), "first second third");
});

Deno.test("parseResponseHead unfolds a value that starts or ends on a folded line without edge spaces", () => {
  const head = parse(
    "HTTP/1.1 200 OK\r\nX-Late:\r\n  value\r\nX-Early: value\r\n \r\n" +
      "Content-Length:\r\n 2\r\n\r\n",
  );
  assert.equal(head.headers.get("x-late"), "value");
  assert.equal(head.headers.get("x-early"), "value");
  assert.equal(head.contentLength, 2, "a folded Content-Length is read as Go reads it");
});

Deno.test("parseResponseHead keeps non-ASCII header bytes as Latin-1 characters", () => {
  const buf = new Uint8Array([
    ...bytes("HTTP/1.1 200 OK\r\nX-Name: caf"),
    0xe9,
    ...bytes("\r\n\r\n"),
  ]);
  const head = parseResponseHead(buf, 0, buf.length);
  assert.equal(head.headers.get("x-name"), "caf\u00e9");
});

Deno.test("parseResponseHead parses a head in the middle of a buffer", () => {
  const buf = bytes("garbageHTTP/1.1 201 Created\r\nA: 1\r\n\r\nrest");
  const start = 7;
  const end = findHeadEnd(buf, start, buf.length);
  const head = parseResponseHead(buf, start, end);
  assert.equal(head.status, 201);
  assert.equal(head.headers.get("a"), "1");
});

Deno.test("parseResponseHead rejects malformed status lines", () => {
  for (
    const line of [
      "HTTP/2 200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1 abc OK",
      "HTTP/1.1  200 OK",
      "HTTP/1.1 099 Low",
      "http/1.1 200 OK",
      "ICY 200 OK",
      "\uFEFFHTTP/1.1 200 OK",
      "HTTP/1.1",
    ]
  ) {
    assertProtocolError(() => parse(`${line}\r\n\r\n`), /status line/);
  }
});

Deno.test("parseResponseHead rejects malformed header lines", () => {
  assertProtocolError(() => parse("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"), /header line/);
  assertProtocolError(() => parse("HTTP/1.1 200 OK\r\n: no name\r\n\r\n"), /header line/);
  assertProtocolError(() => parse("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"), /Invalid upstream/);
  assertProtocolError(() => parse("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n"), /Invalid upstream/);
  assertProtocolError(() => parse("HTTP/1.1 200 OK\r\n folded-first\r\n\r\n"), /continuation/);
});

Deno.test("parseChunkSize reads hex sizes and ignores extensions", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["a", 10],
    ["FF", 255],
    ["1f4\r", 500],
    ["10;name=value", 16],
    ["10 ;ext", 16],
    ["000010", 16],
  ];
  for (const [line, size] of cases) {
    const buf = bytes(line);
    assert.equal(parseChunkSize(buf, 0, buf.length), size, line);
  }
});

Deno.test("parseChunkSize rejects bad size lines", () => {
  for (const line of ["", "\r", "xyz", "-1", "1 2", "10x", "fffffffffffffffff", "; ext"]) {
    const buf = bytes(line);
    assert.equal(parseChunkSize(buf, 0, buf.length), -1, JSON.stringify(line));
  }
});

Deno.test("parseResponseHead rejects a NUL or a bare CR in a header value", () => {
  assertProtocolError(
    () => parse("HTTP/1.1 200 OK\r\nX-Bad: a\0b\r\nContent-Length: 0\r\n\r\n"),
    /Invalid upstream response: .*"a\\u0000b"/,
  );
  assertProtocolError(() => parse("HTTP/1.1 200 OK\r\nX-Cr: a\rb\r\n\r\n"), /Invalid upstream/);
});

Deno.test("parseResponseHead keeps repeated fields apart, in arrival order", () => {
  const head = parse("HTTP/1.1 200 OK\r\nVary: a\r\nSet-Cookie: x=1\r\nVary: b\r\n\r\n");
  const fields: string[] = [];
  head.headers.forEachField((value, name) => fields.push(`${name}=${value}`));
  assert.deepEqual(fields, ["vary=a", "set-cookie=x=1", "vary=b"]);
  assert.equal(head.headers.get("vary"), "a, b");
});

Deno.test("hasToken finds a token in a comma-separated list, ignoring case and spaces", () => {
  const cases: [string, string, boolean][] = [
    ["close", "close", true],
    ["Close", "close", true],
    [" \tCLOSE\t ", "close", true],
    ["Keep-Alive, Upgrade", "upgrade", true],
    ["keep-alive,close", "close", true],
    [",, close ,", "close", true],
    ["closed", "close", false],
    ["x-close", "close", false],
    ["clos", "close", false],
    ["", "close", false],
    [", ,", "close", false],
    ["keep-alive", "close", false],
  ];
  for (const [list, token, expected] of cases) {
    assert.equal(hasToken(list, token), expected, `hasToken(${JSON.stringify(list)}, ${token})`);
  }
});
