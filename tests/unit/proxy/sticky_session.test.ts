import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { SpecReader } from "../../../filters/spec.ts";
import {
  readStickySession,
  SessionSticker,
  sign,
  type StickySessionSpec,
} from "../../../filters/proxy/sticky_session.ts";

const servers = ["http://10.0.0.1:80", "http://10.0.0.2:80", "http://10.0.0.3:80"].map((url) => ({
  url,
}));

function withCookie(cookie?: string): HttpRequest {
  return new HttpRequest({ headers: cookie ? { cookie } : {} });
}

function read(spec: unknown): { spec: StickySessionSpec; problems: readonly string[] } {
  const r = SpecReader.root(spec);
  const out = readStickySession(r);
  r.finish();
  return { spec: out, problems: r.problems };
}

Deno.test("stickySession spec: mode and the cookies it needs, named", () => {
  assert.deepEqual(read({ mode: "DurationBased" }).problems, [
    "lbCookieName: is required by mode DurationBased",
  ]);
  assert.deepEqual(read({ mode: "CookieConsistentHash" }).problems, [
    "appCookieName: is required by mode CookieConsistentHash",
  ]);
  assert.deepEqual(read({ mode: "sticky", lbCookieName: "a b" }).problems, [
    'mode: must be one of CookieConsistentHash, DurationBased, ApplicationBased, got "sticky"',
    'lbCookieName: must be a cookie name (letters, digits and !#$%&\'*+-.^_`|~), got "a b"',
  ]);
  assert.deepEqual(
    read({ mode: "ApplicationBased", appCookieName: "sid", lbCookieName: "lb" }).spec,
    { mode: "ApplicationBased", appCookieName: "sid", lbCookieName: "lb" },
  );
});

Deno.test("CookieConsistentHash: one session, one server; sessions spread; a server leaving moves only its sessions", () => {
  const sticker = new SessionSticker({ mode: "CookieConsistentHash", appCookieName: "sid" });
  sticker.update(servers);
  assert.equal(sticker.pick(withCookie(), servers), -1);
  assert.equal(sticker.pick(withCookie("other=1"), servers), -1);
  const picks = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const id = `session-${i}`;
    const first = sticker.pick(withCookie(`a=b; sid=${id}`), servers);
    assert.equal(sticker.pick(withCookie(`sid=${id}`), servers), first);
    picks.set(id, first);
  }
  const counts = [0, 1, 2].map((i) => [...picks.values()].filter((p) => p === i).length);
  assert.ok(counts.every((c) => c > 50), `uneven: ${counts}`);
  const rest = [servers[0], servers[2]];
  sticker.update(rest);
  for (const [id, before] of picks) {
    const after = rest[sticker.pick(withCookie(`sid=${id}`), rest)].url;
    if (before !== 1) assert.equal(after, servers[before].url, id);
  }
});

Deno.test("the session cookie counts in any Cookie field, as Go's Request.Cookie reads them all", () => {
  const sticker = new SessionSticker({ mode: "CookieConsistentHash", appCookieName: "sid" });
  sticker.update(servers);
  const alone = sticker.pick(withCookie("sid=s-1"), servers);
  const second = new HttpRequest({ headers: [["cookie", "a=b"], ["cookie", "sid=s-1"]] });
  assert.equal(sticker.pick(second, servers), alone);
});

Deno.test("DurationBased: every answer gets the balancer cookie, which leads back to its server", () => {
  const sticker = new SessionSticker({
    mode: "DurationBased",
    lbCookieName: "EG_SESSION",
    lbCookieExpire: "1h",
  });
  const response = new HttpResponse(200);
  sticker.stamp(servers[1], response);
  const [cookie] = response.headers.getSetCookie();
  const m = /^EG_SESSION=([0-9a-f]{80}); Path=\/; Expires=(.+)$/.exec(cookie);
  assert.ok(m, cookie);
  const expires = Date.parse(m[2]) - Date.now();
  assert.ok(expires > 3_500_000 && expires <= 3_600_000, String(expires));
  assert.equal(sticker.pick(withCookie(`EG_SESSION=${m[1]}`), servers), 1);
  // Not a server of the pool (any more), or not a signature at all: the policy picks.
  assert.equal(sticker.pick(withCookie(`EG_SESSION=${m[1]}`), [servers[0], servers[2]]), -1);
  assert.equal(sticker.pick(withCookie("EG_SESSION=zz"), servers), -1);
});

Deno.test("the balancer cookie is Easegress's: a random key and its HMAC-SHA256 of the URL", () => {
  const value = sign("http://10.0.0.3:80");
  const key = Uint8Array.fromHex(value.slice(0, 16));
  const mac = createHmac("sha256", key).update("http://10.0.0.3:80").digest("hex");
  assert.equal(value.slice(16), mac);
  assert.notEqual(sign("http://10.0.0.3:80"), value);
});

Deno.test("ApplicationBased: the balancer cookie comes with the application's own", () => {
  const sticker = new SessionSticker({
    mode: "ApplicationBased",
    appCookieName: "JSESSIONID",
    lbCookieName: "lb",
  });
  const plain = new HttpResponse(200);
  sticker.stamp(servers[0], plain);
  assert.deepEqual(plain.headers.getSetCookie(), []);
  const login = new HttpResponse(200, [["set-cookie", "JSESSIONID=abc; Path=/"]]);
  sticker.stamp(servers[2], login);
  const cookies = login.headers.getSetCookie();
  assert.equal(cookies.length, 2);
  const value = cookies[1].slice(3, cookies[1].indexOf(";"));
  assert.equal(sticker.pick(withCookie(`JSESSIONID=abc; lb=${value}`), servers), 2);
});
