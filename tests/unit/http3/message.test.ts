import assert from "node:assert/strict";
import { H3_ERROR, H3StreamError } from "../../../server/http3/errors.ts";
import {
  checkTrailers,
  fieldSectionSize,
  parseRequestHead,
  responseFields,
} from "../../../server/http3/message.ts";

const BASE = [":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/a?b=1"];

function malformed(fields: string[], pattern: RegExp): void {
  assert.throws(
    () => parseRequestHead(fields),
    (e) =>
      e instanceof H3StreamError && e.code === H3_ERROR.MESSAGE_ERROR && pattern.test(e.message),
  );
}

Deno.test("parseRequestHead builds the URL and headers of a valid request", () => {
  const head = parseRequestHead([...BASE, "accept", "*/*", "content-length", "5"]);
  assert.equal(head.method, "GET");
  assert.equal(head.url, "https://example.com/a?b=1");
  assert.equal(head.headers.get("accept"), "*/*");
  assert.equal(head.contentLength, 5);
});

Deno.test("parseRequestHead uses host when :authority is absent", () => {
  const head = parseRequestHead([
    ":method",
    "GET",
    ":scheme",
    "https",
    ":path",
    "/",
    "host",
    "h:8443",
  ]);
  assert.equal(head.url, "https://h:8443/");
});

Deno.test("parseRequestHead puts an IPv6 :authority without brackets in them, for the URL", () => {
  const head = parseRequestHead([
    ":method",
    "GET",
    ":scheme",
    "https",
    ":authority",
    "::1",
    ":path",
    "/a",
  ]);
  assert.equal(head.url, "https://[::1]/a");
  assert.equal(new URL(head.url).hostname, "[::1]");
});

Deno.test("parseRequestHead joins cookie fields with '; ' (RFC 9114 §4.2.1)", () => {
  const head = parseRequestHead([...BASE, "cookie", "a=1", "cookie", "b=2"]);
  assert.equal(head.headers.get("cookie"), "a=1; b=2");
});

Deno.test("parseRequestHead: missing pseudo-headers are H3_MESSAGE_ERROR", () => {
  malformed([":scheme", "https", ":authority", "a", ":path", "/"], /missing :method/);
  malformed([":method", "GET", ":authority", "a", ":path", "/"], /missing :scheme/);
  malformed([":method", "GET", ":scheme", "https", ":authority", "a"], /missing :path/);
  malformed([":method", "GET", ":scheme", "https", ":path", "/"], /missing :authority/);
  malformed([":method", "GET", ":scheme", "https", ":authority", "a", ":path", ""], /empty :path/);
});

Deno.test("parseRequestHead: uppercase and invalid field names are H3_MESSAGE_ERROR", () => {
  malformed([...BASE, "X-Upper", "1"], /uppercase/);
  malformed([...BASE, "bad name", "1"], /invalid character/);
  malformed([...BASE, "", "1"], /empty field name/);
});

Deno.test("parseRequestHead: pseudo-header placement and repetition", () => {
  malformed(
    [":method", "GET", "accept", "*/*", ":scheme", "https", ":path", "/"],
    /after a regular/,
  );
  malformed([...BASE, ":method", "POST"], /repeated :method/);
  malformed([...BASE, ":status", "200"], /:status/);
  malformed([":foo", "x", ...BASE], /unknown pseudo-header/);
  malformed([":protocol", "websocket", ...BASE], /:protocol/);
});

Deno.test("parseRequestHead: connection-specific fields are H3_MESSAGE_ERROR", () => {
  for (
    const name of ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]
  ) {
    malformed([...BASE, name, "x"], /connection-specific/);
  }
  malformed([...BASE, "te", "gzip"], /te/);
  assert.equal(parseRequestHead([...BASE, "te", "trailers"]).headers.get("te"), "trailers");
});

Deno.test("parseRequestHead: bad values, paths and authorities are H3_MESSAGE_ERROR", () => {
  malformed([...BASE, "x", "a\r\nb"], /NUL, CR or LF/);
  malformed([...BASE, "x", " padded"], /whitespace/);
  malformed(
    [":method", "GET", ":scheme", "https", ":authority", "a", ":path", "nope"],
    /start with/,
  );
  malformed(
    [":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/a#frag"],
    /not allowed/,
  );
  malformed(
    [":method", "GET", ":scheme", "https", ":authority", "u@h", ":path", "/"],
    /host\[:port\]/,
  );
  malformed(
    [":method", "GET", ":scheme", "https", ":authority", "a/b", ":path", "/"],
    /host\[:port\]/,
  );
  malformed([...BASE, "host", "other"], /differs/);
  malformed([":method", "G T", ":scheme", "https", ":authority", "a", ":path", "/"], /not a token/);
  malformed(
    [":method", "GET", ":scheme", "ftp", ":authority", "a", ":path", "/"],
    /unsupported :scheme/,
  );
});

Deno.test("parseRequestHead: a :path's bytes past ASCII go on escaped, as over HTTP/1.1; DEL is refused", () => {
  // "/café" as UTF-8 bytes, one char per byte as QPACK decodes them.
  const sent = String.fromCharCode(...new TextEncoder().encode("/caf\u00e9/x?q=\u00e9"));
  const head = parseRequestHead([
    ":method",
    "GET",
    ":scheme",
    "https",
    ":authority",
    "a",
    ":path",
    sent,
  ]);
  assert.equal(head.target, "/caf%C3%A9/x?q=%C3%A9");
  assert.equal(head.url, "https://a/caf%C3%A9/x?q=%C3%A9");
  malformed(
    [":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/a\x7f"],
    /not allowed/,
  );
});

Deno.test("parseRequestHead: content-length must be one consistent number", () => {
  malformed([...BASE, "content-length", "abc"], /not a number/);
  malformed([...BASE, "content-length", "1", "content-length", "2"], /conflicting/);
  assert.equal(
    parseRequestHead([...BASE, "content-length", "3", "content-length", "3"]).contentLength,
    3,
  );
});

Deno.test("parseRequestHead accepts CONNECT with only :authority and OPTIONS *", () => {
  const connect = parseRequestHead([":method", "CONNECT", ":authority", "example.com:443"]);
  assert.equal(connect.method, "CONNECT");
  malformed([":method", "CONNECT", ":authority", "a:1", ":path", "/"], /CONNECT with/);
  const options = parseRequestHead([
    ":method",
    "OPTIONS",
    ":scheme",
    "https",
    ":authority",
    "a",
    ":path",
    "*",
  ]);
  assert.equal(options.url, "https://a/*");
  malformed([":method", "GET", ":scheme", "https", ":authority", "a", ":path", "*"], /"\*"/);
});

Deno.test("checkTrailers refuses pseudo-headers and what a head may not carry", () => {
  checkTrailers(["x-checksum", "abc"]);
  assert.throws(() => checkTrailers([":status", "200"]), H3StreamError);
  assert.throws(() => checkTrailers(["X-Checksum", "abc"]), /uppercase/);
  assert.throws(() => checkTrailers(["transfer-encoding", "chunked"]), /connection-specific/);
  assert.throws(() => checkTrailers(["x-checksum", "a\nb"]), /CR or LF/);
});

Deno.test("responseFields drops connection-specific headers and keeps set-cookie apart", () => {
  const headers = new Headers([["connection", "close"], ["set-cookie", "a=1"], [
    "set-cookie",
    "b=2",
  ]]);
  headers.set("content-type", "text/plain");
  headers.set("date", "Sun, 06 Dec 2026 15:00:00 GMT");
  const fields = responseFields(201, headers);
  assert.deepEqual(fields, [
    ":status",
    "201",
    "content-type",
    "text/plain",
    "date",
    "Sun, 06 Dec 2026 15:00:00 GMT",
    "set-cookie",
    "a=1",
    "set-cookie",
    "b=2",
  ]);
  assert.equal(fieldSectionSize([":status", "201"]), 7 + 3 + 32);
});

Deno.test("responseFields adds a Date to headers without one, as HTTP/1.1 and HTTP/2 do", () => {
  const fields = responseFields(404, new Headers({ "content-length": "0" }));
  assert.deepEqual(fields.slice(0, 4), [":status", "404", "content-length", "0"]);
  assert.equal(fields[4], "date");
  assert.match(fields[5], /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  assert.equal(fields.length, 6);
});
