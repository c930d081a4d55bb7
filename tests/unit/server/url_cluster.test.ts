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

Deno.test("url cluster: past 10 000 learned segments, new values are variables", () => {
  const paths = new UrlClusterAnalyzer();
  // 20 x 20 x 20 distinct three-segment paths learn 8 420 segments, the four-segment ones the rest.
  for (let a = 0; a < 20; a++) {
    for (let b = 0; b < 20; b++) for (let c = 0; c < 20; c++) paths.pattern(`/${a}/${b}/${c}`);
  }
  for (let a = 0; a < 20; a++) {
    for (let b = 0; b < 20; b++) for (let c = 0; c < 5; c++) paths.pattern(`/${a}/${b}/${c}/x`);
  }
  assert.equal(paths.pattern("/0/0/0/x"), "/0/0/0/x");
  // The four-segment root took a new value past the cap, so those paths now all cluster there.
  assert.equal(paths.pattern("/0/0/0/y"), "/*/*/*/*");
  assert.equal(paths.pattern("/new"), "/*");
});
