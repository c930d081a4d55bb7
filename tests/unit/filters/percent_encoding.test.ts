import assert from "node:assert/strict";
import { normalizeEscapes, normalizeRulePath } from "../../../filters/percent_encoding.ts";

Deno.test("normalizeEscapes decodes unreserved characters and upper-cases other escapes", () => {
  const cases: [string, string][] = [
    ["/plain/path", "/plain/path"],
    ["/%61dmin/x", "/admin/x"],
    ["/%7Euser/%2d%5F", "/~user/-_"],
    ["/caf%c3%a9", "/caf%C3%A9"],
    ["/a%2fb%2F", "/a%2Fb%2F"],
    ["/a%20b", "/a%20b"],
  ];
  for (const [path, want] of cases) assert.equal(normalizeEscapes(path), want, path);
  const same = "/a%20b%2F";
  assert.equal(normalizeEscapes(same), same);
});

Deno.test("normalizeEscapes refuses a % not followed by two hex digits, as Go's URL parser does", () => {
  for (const path of ["/100%", "/%zz", "/%4", "/%41%", "/a%2", "/%g0/x"]) {
    assert.equal(normalizeEscapes(path), null, path);
  }
});

Deno.test("normalizeRulePath keeps a rule's malformed escape as written", () => {
  assert.equal(normalizeRulePath("/100%"), "/100%");
});

Deno.test("normalizeRulePath writes a rule's path as normalized requests for it arrive", () => {
  assert.equal(normalizeRulePath("/admin"), "/admin");
  assert.equal(normalizeRulePath("/café"), "/caf%C3%A9");
  assert.equal(normalizeRulePath("/a b|c"), "/a%20b%7Cc");
  assert.equal(normalizeRulePath("/%7euser/%c3%a9"), "/~user/%C3%A9");
  assert.equal(normalizeRulePath("/x;y=1:@!$&'()*+,"), "/x;y=1:@!$&'()*+,");
});

Deno.test("normalizeEscapes escapes what no path carries as it is, as Go's EscapedPath does", () => {
  const cases: [string, string][] = [
    ["/br/{x}", "/br/%7Bx%7D"],
    ['/a|b^c`d"e<f>g\\h', "/a%7Cb%5Ec%60d%22e%3Cf%3Eg%5Ch"],
    ["/%7b{%2f", "/%7B%7B%2F"],
    // Kept as Go keeps them, and as a client signing its path wrote them.
    ["/sq/[1]", "/sq/[1]"],
    ["/x;y=1:@!$&'()*+,", "/x;y=1:@!$&'()*+,"],
  ];
  for (const [path, want] of cases) assert.equal(normalizeEscapes(path), want, path);
  assert.equal(normalizeEscapes("/{%zz"), null);
});

Deno.test("normalizeRulePath spells a rule as requests for it arrive, however the client wrote them", () => {
  for (const rule of ["/br/{x}", "/pipe/a|b", "/sq/[1]", '/q/"x"', "/c/`x`^"]) {
    const spelled = normalizeRulePath(rule);
    assert.equal(normalizeEscapes(rule), spelled, rule);
    assert.equal(
      normalizeEscapes(encodeURI(rule).replaceAll("%5B", "[").replaceAll("%5D", "]")),
      spelled,
      rule,
    );
  }
});
