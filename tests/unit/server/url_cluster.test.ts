import assert from "node:assert/strict";
import { UrlClusterAnalyzer } from "../../../server/httpserver/url_cluster.ts";

Deno.test("url cluster: paths are their own pattern while their segments take few values", () => {
  const paths = new UrlClusterAnalyzer();
  assert.equal(paths.pattern("/api/a"), "/api/a");
  assert.equal(paths.pattern("/api/b"), "/api/b");
  assert.equal(paths.pattern("/"), "/");
  assert.equal(paths.pattern("/api/"), "/api/");
  assert.equal(paths.pattern(""), "");
});

Deno.test("url cluster: a segment with more than 20 values becomes *, as in Easegress", () => {
  const paths = new UrlClusterAnalyzer();
  for (let i = 1; i <= 20; i++) {
    assert.equal(paths.pattern(`/users/${i}/friends/1`), `/users/${i}/friends/1`);
  }
  assert.equal(paths.pattern("/users/21/friends/1"), "/users/*/friends/1");
  assert.equal(paths.pattern("/users/22/friends/9"), "/users/*/friends/9");
  // A path already counted keeps its pattern; deeper paths are clustered apart.
  assert.equal(paths.pattern("/users/3/friends/1"), "/users/3/friends/1");
  assert.equal(paths.pattern("/users/3"), "/users/3");
  for (let i = 0; i < 25; i++) paths.pattern(`/users/99/friends/${i}`);
  assert.equal(paths.pattern("/users/100/friends/1000"), "/users/*/friends/*");
});
