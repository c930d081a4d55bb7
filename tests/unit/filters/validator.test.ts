import assert from "node:assert/strict";
import type { FilterInstance } from "../../../filters/filter.ts";
import { HeaderFields } from "../../../filters/header_fields.ts";
import { basicCredentials, validatorKind } from "../../../filters/validator.ts";
import { requestCookie } from "../../../filters/go_cookies.ts";
import { CustomDataView } from "../../../filters/custom_data_view.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";
import { build, contextFor, roundTrip, specProblems, testEnv } from "./_helpers.ts";
import { keyPairFor, signJwt, signJwtWithKey } from "./_jwt.ts";

const kind = validatorKind;
const SECRET_HEX = "6d79736563726574"; // "mysecret"
const SECRET = new TextEncoder().encode("mysecret");
const NOW = Math.floor(Date.now() / 1000);

async function run(filter: FilterInstance, init: Parameters<typeof contextFor>[0] = {}) {
  const ctx = contextFor(init);
  const result = await filter.handle(ctx);
  return { result, status: ctx.response?.status, ctx };
}

Deno.test("Validator headers: value in values or matching regexp passes, else 400", async () => {
  const v = build(kind, {
    headers: {
      "X-Env": { values: ["prod", "staging"] },
      "X-Id": { regexp: "^[0-9]+$" },
    },
  });
  assert.deepEqual(
    (await run(v, { headers: { "x-env": "prod", "x-id": "42" } })).result,
    "",
  );
  const missing = await run(v, { headers: { "x-env": "prod" } });
  assert.equal(missing.result, "invalid");
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.ctx.tags, ["header validator: header X-Id not found"]);
  const wrong = await run(v, { headers: { "x-env": "dev", "x-id": "42" } });
  assert.equal(wrong.status, 400);
  assert.deepEqual(wrong.ctx.tags, ["header validator: header X-Env is invalid"]);
});

Deno.test("Validator headers: with repeated fields the first one decides", async () => {
  const v = build(kind, { headers: { "X-Env": { values: ["prod"] } } });
  const first = new Headers([["x-env", "prod"], ["x-env", "dev"]]);
  const second = new Headers([["x-env", "dev"], ["x-env", "prod"]]);
  assert.equal((await run(v, { headers: first })).result, "");
  assert.equal((await run(v, { headers: second })).result, "invalid");
});

Deno.test("Validator headers: only the first of repeated fields counts", async () => {
  const v = build(kind, { headers: { "X-Token": { regexp: "ok-[0-9]+" } } });
  const fields = (...values: string[]) => {
    const h = new HeaderFields();
    for (const value of values) h.append("x-token", value);
    return h;
  };
  assert.equal((await run(v, { headers: fields("ok-1", "bad") })).result, "");
  const later = await run(v, { headers: fields("bad", "ok-1") });
  assert.equal(later.result, "invalid");
  assert.deepEqual(later.ctx.tags, ["header validator: header X-Token is invalid"]);
  // An empty field is there: it is checked, not missing.
  const empty = build(kind, { headers: { "X-Token": { values: [""] } } });
  assert.equal((await run(empty, { headers: fields("", "x") })).result, "");
});

Deno.test("Validator jwt accepts a valid Bearer token and rejects others with 401", async () => {
  const v = build(kind, { jwt: { algorithm: "HS256", secret: SECRET_HEX } });
  const good = await signJwt({ sub: "u", exp: NOW + 600 }, SECRET);
  assert.equal((await run(v, { headers: { authorization: `Bearer ${good}` } })).result, "");

  const expired = await signJwt({ exp: NOW - 600 }, SECRET);
  const bad = await run(v, { headers: { authorization: `Bearer ${expired}` } });
  assert.equal(bad.result, "invalid");
  assert.equal(bad.status, 401);
  assert.deepEqual(bad.ctx.tags, ["JWT validator: token is expired"]);

  const none = await run(v);
  assert.equal(none.status, 401);
  assert.deepEqual(none.ctx.tags, [
    "JWT validator: missing Authorization header, expected Bearer",
  ]);
  const basic = await run(v, { headers: { authorization: "Basic c2VjcmV0OnB3" } });
  assert.deepEqual(basic.ctx.tags, [
    'JWT validator: unexpected Authorization scheme "Basic", expected Bearer',
  ]);

  const otherAlg = await signJwt({}, SECRET, "HS512");
  const alg = await run(v, { headers: { authorization: `Bearer ${otherAlg}` } });
  assert.deepEqual(alg.ctx.tags, ["JWT validator: unexpected signing method: HS512"]);
});

Deno.test("Validator jwt checks tokens signed with a private key against its publicKey", async () => {
  const { privateKey, publicKeyHex } = await keyPairFor("ES256");
  const v = build(kind, { jwt: { algorithm: "ES256", publicKey: publicKeyHex, cookieName: "t" } });
  const good = await signJwtWithKey({ sub: "u", exp: NOW + 600 }, privateKey, "ES256");
  assert.equal((await run(v, { headers: { authorization: `Bearer ${good}` } })).result, "");
  assert.equal((await run(v, { headers: { cookie: `t=${good}` } })).result, "");
  const hmac = await signJwt({}, SECRET, "HS256");
  const bad = await run(v, { headers: { authorization: `Bearer ${hmac}` } });
  assert.equal(bad.status, 401);
  assert.deepEqual(bad.ctx.tags, ["JWT validator: unexpected signing method: HS256"]);
});

Deno.test("Validator jwt reads the token from cookieName first, then Authorization", async () => {
  const v = build(kind, { jwt: { algorithm: "HS384", secret: SECRET_HEX, cookieName: "auth" } });
  const token = await signJwt({}, SECRET, "HS384");
  const cookie = await run(v, { headers: { cookie: `a=1; auth="${token}"; b=2` } });
  assert.equal(cookie.result, "");
  const header = await run(v, { headers: { cookie: "other=1", authorization: `Bearer ${token}` } });
  assert.equal(header.result, "");
  const badCookie = await run(v, {
    headers: { cookie: "auth=junk", authorization: `Bearer ${token}` },
  });
  assert.equal(badCookie.status, 401);
});

Deno.test("Validator jwt finds its cookie in a second Cookie field, as Go's Request.Cookie", async () => {
  const v = build(kind, { jwt: { algorithm: "HS384", secret: SECRET_HEX, cookieName: "auth" } });
  const token = await signJwt({}, SECRET, "HS384");
  const twoFields = await run(v, { headers: [["cookie", "a=1"], ["cookie", `auth=${token}`]] });
  assert.equal(twoFields.result, "");
});

Deno.test('Validator jwt wants Authorization to start with exactly "Bearer ", as Easegress', async () => {
  const v = build(kind, { jwt: { algorithm: "HS256", secret: SECRET_HEX } });
  const token = await signJwt({ sub: "u" }, SECRET);
  const at = (authorization: string | Headers) =>
    run(v, {
      headers: typeof authorization === "string" ? { authorization } : authorization,
    });
  assert.equal((await at(`Bearer ${token}`)).result, "");
  for (const scheme of ["bearer", "BEARER", "Bearer\t"]) {
    const lower = await at(`${scheme} ${token}`);
    assert.equal(lower.status, 401, scheme);
    assert.match(lower.ctx.tags[0], /^JWT validator: unexpected Authorization scheme/);
  }
  // The token is what follows "Bearer " as it is: here it starts with a space.
  const twoSpaces = await at(`Bearer  ${token}`);
  assert.equal(twoSpaces.status, 401);
  assert.deepEqual(twoSpaces.ctx.tags, ["JWT validator: token header is not base64url"]);
  const empty = await at("Bearer ");
  assert.equal(empty.status, 401);
  // Go's Header.Get: the first Authorization field alone decides.
  const fields = new HeaderFields();
  fields.append("authorization", `Bearer ${token}`);
  fields.append("authorization", "Basic eDp5");
  assert.equal((await at(fields)).result, "");
  const basicFirst = new HeaderFields();
  basicFirst.append("authorization", "Basic eDp5");
  basicFirst.append("authorization", `Bearer ${token}`);
  assert.equal((await at(basicFirst)).status, 401);
});

Deno.test("Validator jwt rejects a token whose exp is null (golang-jwt v4)", async () => {
  const v = build(kind, { jwt: { algorithm: "HS256", secret: SECRET_HEX } });
  for (const exp of [null, "never", NOW + 600 + ""]) {
    const token = await signJwt({ sub: "u", exp }, SECRET);
    const r = await run(v, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401, JSON.stringify(exp));
    assert.deepEqual(r.ctx.tags, ["JWT validator: token claim exp is not a number"]);
  }
});

Deno.test("Validator checks headers before jwt", async () => {
  const v = build(kind, {
    headers: { "X-A": { values: ["1"] } },
    jwt: { algorithm: "HS256", secret: SECRET_HEX },
  });
  assert.equal((await run(v)).status, 400);
  assert.equal((await run(v, { headers: { "x-a": "1" } })).status, 401);
});

Deno.test("Validator signature answers 401 for a request that is not signed", async () => {
  const v = build(kind, { signature: { accessKeys: { key1: "secret" } } });
  const unsigned = await run(v);
  assert.equal(unsigned.result, "invalid");
  assert.equal(unsigned.status, 401);
  assert.deepEqual(unsigned.ctx.tags, ["signature validator: invalid query value: X-Me-Algorithm"]);
});

Deno.test("Validator basicAuth checks htpasswd users and sets X-AUTH-USER", async () => {
  const dir = await Deno.makeTempDir();
  const userFile = `${dir}/.htpasswd`;
  await Deno.writeTextFile(
    userFile,
    "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nbob:$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n",
  );
  const v = build(kind, { basicAuth: { mode: "FILE", userFile } });
  try {
    const basic = (user: string, pw: string) => ({
      headers: { authorization: `Basic ${btoa(`${user}:${pw}`)}` },
    });
    const alice = await run(v, basic("alice", "password"));
    assert.equal(alice.result, "");
    assert.equal(alice.ctx.request.header("x-auth-user"), "alice");
    assert.equal((await run(v, basic("bob", "U*U"))).result, "");
    const wrong = await run(v, basic("alice", "nope"));
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.ctx.tags, ["http basic validator: unauthorized"]);
    assert.equal((await run(v, basic("carol", "password"))).status, 401);
    const noHeader = await run(v);
    assert.deepEqual(noHeader.ctx.tags, [
      "http basic validator: missing Authorization header, expected Basic",
    ]);
    const garbage = await run(v, { headers: { authorization: "Basic !!!" } });
    assert.deepEqual(garbage.ctx.tags, ["http basic validator: credentials are not base64"]);
    // Go's Header.Get: the first Authorization field is the one checked.
    const twice = await run(v, {
      headers: [["authorization", `Basic ${btoa("alice:password")}`], [
        "authorization",
        "Bearer x",
      ]],
    });
    assert.equal(twice.result, "");
  } finally {
    await v.close?.();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Validator oauth2 jwt sets the authenticated user and scope headers", async () => {
  const v = build(kind, { oauth2: { jwt: { algorithm: "HS256", secret: SECRET_HEX } } });
  const token = await signJwt({ sub: "user-7", scope: "read write" }, SECRET);
  const ok = await run(v, {
    headers: { authorization: `Bearer ${token}`, "x-authenticated-userid": "spoofed" },
  });
  assert.equal(ok.result, "");
  assert.equal(ok.ctx.request.header("x-authenticated-userid"), "user-7");
  assert.equal(ok.ctx.request.header("x-authenticated-scope"), "read write");
  const bad = await run(v, { headers: { authorization: "Bearer a.b.c" } });
  assert.equal(bad.status, 401);
  assert.match(bad.ctx.tags[0], /^oauth2 validator: /);
  // As Easegress: exactly "Bearer " and the rest as it is.
  for (const authorization of [`bearer ${token}`, `Bearer  ${token}`]) {
    assert.equal((await run(v, { headers: { authorization } })).status, 401, authorization);
  }
});

Deno.test("Validator oauth2 sends no empty user or scope field for a token without them", async () => {
  const v = build(kind, { oauth2: { jwt: { algorithm: "HS256", secret: SECRET_HEX } } });
  const token = await signJwt({ scope: "read" }, SECRET);
  const ok = await run(v, {
    headers: { authorization: `Bearer ${token}`, "x-authenticated-userid": "spoofed" },
  });
  assert.equal(ok.result, "");
  // As Easegress, a field is set only with a value; one the client sent is never passed on.
  assert.equal(ok.ctx.request.header("x-authenticated-userid"), null);
  assert.equal(ok.ctx.request.header("x-authenticated-scope"), "read");
  const bare = await run(v, { headers: { authorization: `Bearer ${await signJwt({}, SECRET)}` } });
  assert.equal(bare.result, "");
  assert.equal(bare.ctx.request.header("x-authenticated-userid"), null);
  assert.equal(bare.ctx.request.header("x-authenticated-scope"), null);
});

Deno.test("Validator oauth2 tokenIntrospect asks the server and honours active", async () => {
  const seen: { body: string; auth: string | null; type: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    seen.push({
      body,
      auth: req.headers.get("authorization"),
      type: req.headers.get("content-type"),
    });
    const token = new URLSearchParams(body).get("token");
    if (token === "good") return Response.json({ active: true, sub: "u1", scope: "s" });
    if (token === "error") return Response.json({ error: "invalid_request" });
    if (token === "down") return new Response("no", { status: 503 });
    return Response.json({ active: false });
  });
  try {
    const endPoint = `http://127.0.0.1:${server.addr.port}/introspect`;
    const withClient = build(kind, {
      oauth2: { tokenIntrospect: { endPoint, clientId: "cid", clientSecret: "c&s" } },
    });
    const good = await run(withClient, { headers: { authorization: "Bearer good" } });
    assert.equal(good.result, "");
    assert.equal(good.ctx.request.header("x-authenticated-userid"), "u1");
    assert.equal(good.ctx.request.header("x-authenticated-scope"), "s");
    assert.deepEqual(seen[0], {
      body: "token=good&client_id=cid&client_secret=c%26s",
      auth: null,
      type: "application/x-www-form-urlencoded",
    });

    const withBasic = build(kind, { oauth2: { tokenIntrospect: { endPoint, basicAuth: "dTpw" } } });
    const inactive = await run(withBasic, { headers: { authorization: "Bearer other" } });
    assert.equal(inactive.status, 401);
    assert.deepEqual(inactive.ctx.tags, ["oauth2 validator: token is not active"]);
    assert.equal(seen[1].auth, "Basic dTpw");
    assert.equal(seen[1].body, "token=other");

    const error = await run(withBasic, { headers: { authorization: "Bearer error" } });
    assert.deepEqual(error.ctx.tags, [
      "oauth2 validator: token introspection error: invalid_request",
    ]);
    const down = await run(withBasic, { headers: { authorization: "Bearer down" } });
    assert.deepEqual(down.ctx.tags, ["oauth2 validator: token introspection answered 503"]);
    const missing = await run(withBasic);
    assert.equal(missing.status, 401);
  } finally {
    await server.shutdown();
  }
});

Deno.test("Validator normalizes its spec and round-trips through YAML", () => {
  assert.deepEqual(
    roundTrip(kind, {
      headers: { "X-A": { values: ["1"], regexp: "" } },
      jwt: { algorithm: "HS512", secret: "00ff", cookieName: "" },
      basicAuth: {},
      oauth2: { tokenIntrospect: { endPoint: "https://idp.example/introspect", clientId: "c" } },
    }),
    {
      headers: { "X-A": { values: ["1"] } },
      jwt: { algorithm: "HS512", secret: "00ff" },
      oauth2: {
        tokenIntrospect: {
          endPoint: "https://idp.example/introspect",
          insecureTls: false,
          clientId: "c",
        },
      },
      basicAuth: { mode: "FILE", userFile: "/etc/apache2/.htpasswd" },
    },
  );
});

Deno.test("Validator rejects bad specs with field paths", () => {
  assert.deepEqual(specProblems(kind, {}), [
    "spec: needs at least one of headers, jwt, signature, oauth2, basicAuth",
  ]);
  assert.deepEqual(
    specProblems(kind, {
      headers: { "X A": { values: ["1"] }, "X-B": {}, "X-C": { regexp: "(" } },
      jwt: { algorithm: "RS256", secret: "xyz" },
      signature: { accessKeys: {} },
      oauth2: {
        tokenIntrospect: { endPoint: "idp", insecureTls: true },
        jwt: { algorithm: "HS256" },
      },
      basicAuth: { mode: "FILE", etcdPrefix: "creds/" },
      typo: true,
    }).map((p) => p.replace(/expression: .*/, "expression")),
    [
      'headers.X A: "X A" is not a valid header name',
      "headers.X-B: needs values or regexp",
      "headers.X-C.regexp: is not a valid regular expression",
      "jwt.publicKey: is required",
      "jwt.secret: is only used with HS algorithms",
      "signature.accessKeys: must hold at least one key id",
      'oauth2.tokenIntrospect.endPoint: must be an http(s) URL, got "idp"',
      "oauth2.jwt.secret: is required",
      "oauth2: needs exactly one of tokenIntrospect or jwt",
      "basicAuth.etcdPrefix: is only used with mode ETCD",
      "typo: unknown field",
    ],
  );
});

Deno.test("requestCookie and basicCredentials parse as Go's net/http does", () => {
  assert.equal(requestCookie('a=1; b=two ; c="q"', "b"), "two");
  assert.equal(requestCookie('a=1; c="q"', "c"), "q");
  assert.equal(requestCookie(null, "a"), "");
  // Go skips a pair whose name or value is not valid, and takes the first valid one.
  assert.equal(requestCookie("b = two", "b"), "");
  assert.equal(requestCookie("d=a\\b; d=ok; d=later", "d"), "ok");
  assert.deepEqual(basicCredentials(`Basic ${btoa("u:p:with:colons")}`), ["u", "p:with:colons"]);
  assert.throws(() => basicCredentials(`Basic ${btoa("nocolon")}`), /not user:password/);
  assert.throws(() => basicCredentials("Bearer x"), /unexpected Authorization scheme "Bearer"/);
});

Deno.test("Validator close stops the htpasswd watcher", async () => {
  const v = validatorKind.create(
    validatorKind.validate({ basicAuth: { userFile: "/nonexistent/.htpasswd" } }),
    testEnv(),
  );
  await v.close?.();
});

Deno.test("Validator headers: non-ASCII values are compared as the UTF-8 text they carry", async () => {
  const v = build(kind, { headers: { "X-City": { values: ["Zürich"], regexp: "^Mü" } } });
  // As the server holds them: each UTF-8 byte of the field one character.
  const wire = (text: string) => String.fromCharCode(...new TextEncoder().encode(text));
  assert.equal((await run(v, { headers: { "x-city": wire("Zürich") } })).result, "");
  assert.equal((await run(v, { headers: { "x-city": wire("München") } })).result, "");
  assert.equal((await run(v, { headers: { "x-city": wire("Bern") } })).result, "invalid");
});

Deno.test("Validator basicAuth ETCD skips a user whose password is empty, as Easegress", async () => {
  const customData = new CustomDataView();
  customData.replace({
    "credentials/eve": { key: "eve", password: "" },
    "credentials/ann": { key: "ann", password: "pw" },
    "credentials/nobody": { key: "", username: "", password: "pw2" },
  });
  const spec = validatorKind.validate({ basicAuth: { mode: "ETCD" } });
  const v = validatorKind.create(spec, { ...testEnv(), customData });
  const basic = (user: string, password: string) => ({
    headers: { authorization: `Basic ${btoa(`${user}:${password}`)}` },
  });
  assert.equal((await run(v, basic("eve", ""))).status, 401);
  assert.equal((await run(v, basic("", "pw2"))).status, 401);
  assert.equal((await run(v, basic("ann", "pw"))).result, "");
  await v.close?.();
});

Deno.test("Validator oauth2 tokenIntrospect with insecureTls takes a self-signed server", async () => {
  const tls = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key, onListen() {} },
    async (req) => {
      const token = new URLSearchParams(await req.text()).get("token");
      return Response.json({ active: token === "good", sub: "u1" });
    },
  );
  try {
    const endPoint = `https://127.0.0.1:${server.addr.port}/introspect`;
    const checked = build(kind, { oauth2: { tokenIntrospect: { endPoint, basicAuth: "dTpw" } } });
    const refused = await run(checked, { headers: { authorization: "Bearer good" } });
    assert.equal(refused.status, 401);
    const insecure = build(kind, {
      oauth2: { tokenIntrospect: { endPoint, basicAuth: "dTpw", insecureTls: true } },
    });
    const good = await run(insecure, { headers: { authorization: "Bearer good" } });
    assert.equal(good.result, "");
    assert.equal(good.ctx.request.header("x-authenticated-userid"), "u1");
    const inactive = await run(insecure, { headers: { authorization: "Bearer other" } });
    assert.deepEqual(inactive.ctx.tags, ["oauth2 validator: token is not active"]);
  } finally {
    await server.shutdown();
    await Deno.remove(tls.dir, { recursive: true });
  }
});
