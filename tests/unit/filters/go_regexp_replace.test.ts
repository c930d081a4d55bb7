import assert from "node:assert/strict";
import { GoRegexpReplacer, parseGoTemplate } from "../../../filters/go_regexp_replace.ts";

function replace(pattern: string, template: string, src: string): string {
  return new GoRegexpReplacer(pattern, template).replaceAll(src);
}

Deno.test("Go template: $1 and ${1} are group 1, $1x is the group named 1x", () => {
  assert.equal(replace("/(a+)(b+)", "[$1][${2}]", "/aab"), "[aa][b]");
  assert.equal(replace("/(a+)", "$1x", "/aa"), "");
  assert.equal(replace("/(a+)", "${1}x", "/aa"), "aax");
});

Deno.test("Go template: named groups with $name and ${name}, (?P<name>) syntax", () => {
  assert.equal(replace("^/(?P<ver>v\\d)/(?P<rest>.*)$", "/${rest}/$ver", "/v1/users"), "/users/v1");
});

Deno.test("Go template: $$ is a dollar, malformed $ stays, unknown groups are empty", () => {
  assert.equal(replace("x", "$$", "axb"), "a$b");
  assert.equal(replace("x", "$", "axb"), "a$b");
  assert.equal(replace("x", "${1", "axb"), "a${1b");
  assert.equal(replace("x", "[$7][$nope][$01]", "axb"), "a[][][]b");
});

Deno.test("Go template: unmatched optional group expands to empty", () => {
  assert.equal(replace("a(b)?c", "<$1>", "ac"), "<>");
});

Deno.test("ReplaceAll skips an empty match right after a match, as Go does", () => {
  assert.equal(replace("x*", "-", "xxa"), "-a-");
  assert.equal(replace("x*", "-", "abc"), "-a-b-c-");
  assert.equal(replace("a", "b", "aaa"), "bbb");
});

Deno.test("ReplaceAll keeps ^ anchored at the start of the whole string", () => {
  assert.equal(replace("^/api", "", "/api/api"), "/api");
});

Deno.test("parseGoTemplate splits literals and references", () => {
  assert.deepEqual(parseGoTemplate("a$1b${x}$$"), ["a", { name: "1b" }, { name: "x" }, "$"]);
  assert.deepEqual(parseGoTemplate("${10}"), [10]);
});
