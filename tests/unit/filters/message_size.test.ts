import assert from "node:assert/strict";
import { HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { HeaderFields } from "../../../filters/header_fields.ts";
import { requestSize, responseBodySize, responseSize } from "../../../filters/message_size.ts";

const encoder = new TextEncoder();

/** A request with the fields of `head` (an HTTP/1.1 head without its blank line). */
function requestOf(
  method: string,
  path: string,
  query: string,
  fields: [string, string][],
  body: Uint8Array | null | (() => ReadableStream<Uint8Array>) = null,
): HttpRequest {
  const headers = new HeaderFields();
  for (const [name, value] of fields) headers.appendChecked(name, value);
  return new HttpRequest({ method, path, query, headers, body });
}

Deno.test("requestSize is the bytes of the HTTP/1.1 head and the body it declares", () => {
  const fields: [string, string][] = [["host", "gw.test"], ["content-length", "5"]];
  const request = requestOf("POST", "/a/b", "x=1", fields, encoder.encode("hello"));
  const wire = "POST /a/b?x=1 HTTP/1.1\r\nhost: gw.test\r\ncontent-length: 5\r\n\r\nhello";
  assert.equal(requestSize(request), wire.length);
  const plain = requestOf("GET", "/", "", [["host", "h"]]);
  assert.equal(requestSize(plain), "GET / HTTP/1.1\r\nhost: h\r\n\r\n".length);
});

Deno.test("requestSize counts held bytes without a Content-Length, and never starts a stream", () => {
  const held = requestOf("POST", "/", "", [], encoder.encode("abc"));
  assert.equal(requestSize(held), "POST / HTTP/1.1\r\n\r\n".length + 3);
  let made = false;
  const streamed = requestOf("POST", "/", "", [["transfer-encoding", "chunked"]], () => {
    made = true;
    return new ReadableStream();
  });
  assert.equal(
    requestSize(streamed),
    "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n".length,
  );
  assert.equal(made, false, "the body was left unread");
});

Deno.test("requestSize reads a runtime Headers too", () => {
  const request = new HttpRequest({
    method: "GET",
    path: "/x",
    headers: new Headers({ "x-a": "1", "x-bb": "22" }),
  });
  assert.equal(requestSize(request), "GET /x HTTP/1.1\r\nx-a: 1\r\nx-bb: 22\r\n\r\n".length);
});

Deno.test("responseSize is the status line, the fields, the blank line and the body sent", () => {
  const response = new HttpResponse(404, [["x-why", "gone"]], "missing");
  const request = requestOf("GET", "/", "", []);
  assert.equal(
    responseSize(request, response),
    "HTTP/1.1 404 Not Found\r\nx-why: gone\r\n\r\nmissing".length,
  );
  const head = requestOf("HEAD", "/", "", []);
  assert.equal(responseBodySize(head, response), 0, "no body goes with an answer to HEAD");
  assert.equal(responseBodySize(request, new HttpResponse(304, undefined, "x")), 0);
  const declared = new HttpResponse(200, [["content-length", "10"]], () => new ReadableStream());
  assert.equal(responseBodySize(request, declared), 10);
  assert.equal(responseBodySize(request, new HttpResponse(200, [], () => new ReadableStream())), 0);
  // A status Go has no text for gets Go's: "HTTP/1.1 599 status code 599\r\n".
  assert.equal(
    responseSize(request, new HttpResponse(599)),
    "HTTP/1.1 599 status code 599\r\n\r\n".length,
  );
});

Deno.test("requestSize spells HTTP/2 and HTTP/3 as Go does, HTTP/2.0 and HTTP/3.0", () => {
  for (const proto of ["HTTP/2", "HTTP/3"]) {
    const headers = new HeaderFields();
    headers.appendChecked("host", "h");
    const request = new HttpRequest({
      method: "GET",
      path: "/",
      query: "",
      headers,
      body: null,
      proto,
    });
    assert.equal(requestSize(request), `GET / ${proto}.0\r\nhost: h\r\n\r\n`.length);
  }
});
