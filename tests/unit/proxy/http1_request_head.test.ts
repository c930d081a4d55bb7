import assert from "node:assert/strict";
import {
  declaredContentLength,
  encodeHeadInto,
  sendableTarget,
  serializeRequestHead,
} from "../../../filters/proxy/http1_request_head.ts";
import { HeaderFields } from "../../../filters/header_fields.ts";

Deno.test("serializeRequestHead writes request line, host, headers and framing", () => {
  const head = serializeRequestHead(
    {
      method: "POST",
      target: "/a/b?c=d",
      host: "backend:8080",
      headers: new Headers({ accept: "*/*", "x-one": "1" }),
      extraHeaders: [["X-Forwarded-For", "10.0.0.1"]],
    },
    "content-length: 3\r\n",
  );
  assert.equal(
    head,
    "POST /a/b?c=d HTTP/1.1\r\nhost: backend:8080\r\naccept: */*\r\nx-one: 1\r\n" +
      "X-Forwarded-For: 10.0.0.1\r\ncontent-length: 3\r\n\r\n",
  );
});

Deno.test("serializeRequestHead leaves out client fields an extra header of the same name replaces", () => {
  const headers = new HeaderFields();
  headers.append("x-b3-spanid", "client-1");
  headers.append("accept", "*/*");
  headers.append("x-b3-spanid", "client-2");
  const head = serializeRequestHead(
    { method: "GET", target: "/", host: "h", headers, extraHeaders: [["x-b3-spanid", "ours"]] },
    "",
  );
  assert.equal(head, "GET / HTTP/1.1\r\nhost: h\r\naccept: */*\r\nx-b3-spanid: ours\r\n\r\n");
});

Deno.test("serializeRequestHead skips hop-by-hop headers, Host and Content-Length", () => {
  const headers = new Headers({
    host: "client.example",
    "content-length": "99",
    connection: "keep-alive, X-Hop",
    "keep-alive": "timeout=5",
    "x-hop": "dropped",
    te: "trailers",
    "transfer-encoding": "chunked",
    upgrade: "websocket",
    "proxy-authorization": "secret",
    "proxy-connection": "keep-alive",
    "x-kept": "kept",
  });
  const head = serializeRequestHead(
    { method: "GET", target: "/", host: "upstream", headers },
    "",
  );
  assert.equal(head, "GET / HTTP/1.1\r\nhost: upstream\r\nx-kept: kept\r\n\r\n");
});

Deno.test("serializeRequestHead rejects parts that would break framing", () => {
  const headers = new Headers();
  const bad = [
    { method: "GE T", target: "/", host: "h" },
    { method: "", target: "/", host: "h" },
    { method: "GET", target: "/a b", host: "h" },
    { method: "GET", target: "/a\r\nX: y", host: "h" },
    { method: "GET", target: "", host: "h" },
    { method: "GET", target: "/caf\u00e9", host: "h" },
    { method: "GET", target: "/", host: "" },
    { method: "GET", target: "/", host: "h\r\nX: y" },
  ];
  for (const parts of bad) {
    assert.throws(
      () => serializeRequestHead({ ...parts, headers }, ""),
      TypeError,
      JSON.stringify(parts),
    );
  }
  assert.throws(
    () =>
      serializeRequestHead({
        method: "GET",
        target: "/",
        host: "h",
        headers,
        extraHeaders: [["X-A", "1\r\nX-B: 2"]],
      }, ""),
    /invalid extra header "X-A"/,
  );
  assert.throws(
    () =>
      serializeRequestHead({
        method: "GET",
        target: "/",
        host: "h",
        headers,
        extraHeaders: [["Bad Name", "1"]],
      }, ""),
    /invalid extra header/,
  );
});

Deno.test("serializeRequestHead accepts extension methods that are tokens", () => {
  const head = serializeRequestHead({
    method: "PROPFIND",
    target: "*",
    host: "h",
    headers: new Headers(),
  }, "");
  assert.ok(head.startsWith("PROPFIND * HTTP/1.1\r\n"));
});

Deno.test("declaredContentLength reads the client's Content-Length", () => {
  assert.equal(declaredContentLength(new Headers()), -1);
  assert.equal(declaredContentLength(new Headers({ "content-length": "42" })), 42);
  assert.throws(
    () => declaredContentLength(new Headers({ "content-length": "4x" })),
    /Content-Length "4x"/,
  );
  assert.throws(() => declaredContentLength(new Headers({ "content-length": "-1" })), TypeError);
});

Deno.test("declaredContentLength takes a Content-Length sent twice alike as one length", () => {
  const twice = new Headers([["content-length", "4"], ["content-length", "4"]]);
  assert.equal(declaredContentLength(twice), 4);
  assert.equal(declaredContentLength(new Headers({ "content-length": "4, 4" })), 4);
  assert.throws(
    () => declaredContentLength(new Headers({ "content-length": "4, 5" })),
    /Content-Length "4, 5"/,
  );
});

Deno.test("encodeHeadInto writes ASCII and Latin-1 as one byte per character", () => {
  const buf = new Uint8Array(32);
  assert.equal(encodeHeadInto("ab\r\n", buf), 4);
  assert.deepEqual([...buf.subarray(0, 4)], [97, 98, 13, 10]);
  assert.equal(encodeHeadInto("x: caf\u00e9", buf), 7);
  assert.equal(buf[6], 0xe9);
  assert.equal(encodeHeadInto("a".repeat(33), buf), -1);
  assert.throws(() => encodeHeadInto("\u20ac", buf), /U\+20ac/);
});

Deno.test("sendableTarget percent-encodes only what a request line cannot carry", () => {
  assert.equal(sendableTarget("/a/b?x=1&y=%20"), "/a/b?x=1&y=%20");
  assert.equal(sendableTarget("/a|b{c}"), "/a|b{c}");
  assert.equal(sendableTarget("/a b?q=c d"), "/a%20b?q=c%20d");
  assert.equal(sendableTarget("/café\t"), "/caf%C3%A9%09");
  assert.equal(sendableTarget("/\u{1F600}"), "/%F0%9F%98%80");
  assert.equal(sendableTarget("/x\uD800"), "/x%EF%BF%BD");
});
