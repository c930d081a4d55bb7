import assert from "node:assert/strict";
import { removeDotSegments } from "../../../server/httpserver/dot_segments.ts";

Deno.test("removeDotSegments: paths without dot segments come back as they are", () => {
  for (
    const path of [
      "/",
      "/a/b",
      "/a.b/c..d/.e/..f/...",
      "/a/%2e%2e%2e",
      "/a/%2f../b",
      "/a//b/",
      "/%2",
      "/a/%",
      "*",
    ]
  ) {
    // ".e", "..f", "..." and "%2e%2e%2e" are names, not dot segments.
    assert.equal(removeDotSegments(path), path, path);
  }
});

Deno.test("removeDotSegments: resolves as RFC 3986 and WHATWG URLs do", () => {
  const cases: [string, string][] = [
    ["/public/../admin", "/admin"],
    ["/a/./b", "/a/b"],
    ["/a/b/..", "/a/"],
    ["/a/b/.", "/a/b/"],
    ["/..", "/"],
    ["/../../etc/passwd", "/etc/passwd"],
    ["/a/%2e%2e/b", "/b"],
    ["/a/%2E%2e/b", "/b"],
    ["/a/.%2e/b", "/b"],
    ["/a/%2e./b", "/b"],
    ["/a/%2e/b", "/a/b"],
    ["/a//../b", "/a/b"],
    ["/a/b/../../..", "/"],
    ["/.", "/"],
    ["/./", "/"],
  ];
  for (const [path, want] of cases) {
    assert.equal(removeDotSegments(path), want, path);
    // The same as a WHATWG URL (HTTP/3 and `--http1-server deno` route on one).
    assert.equal(new URL(path, "http://h").pathname, want, `URL ${path}`);
  }
});
