import assert from "node:assert/strict";
import { HttpRequest, type HttpRequestInit } from "../../../filters/context.ts";
import { HeaderFields } from "../../../filters/header_fields.ts";
import { goEscapedPath } from "../../../filters/go_escaped_path.ts";
import { readSignatureSpec, SignatureVerifier } from "../../../filters/signature.ts";
import { SpecError, SpecReader } from "../../../filters/spec.ts";

/** The body limit the server gives requests on a route with the default clientMaxBodySize. */
const ROUTE_BODY_LIMIT = 4 << 20;

/** A request as the server hands it to a pipeline: its route's body limit set. */
function received(init: HttpRequestInit, replayLimit = ROUTE_BODY_LIMIT): HttpRequest {
  const req = new HttpRequest(init);
  req.replayLimit = replayLimit;
  return req;
}

function verifier(raw: Record<string, unknown>): SignatureVerifier {
  const r = new SpecReader(raw, "signature");
  const spec = readSignatureSpec(r);
  r.finish();
  r.throwIfProblems();
  return new SignatureVerifier(spec);
}

const AWS_LITERAL = {
  scopeSuffix: "aws4_request",
  algorithmName: "X-Amz-Algorithm",
  algorithmValue: "AWS4-HMAC-SHA256",
  signedHeaders: "X-Amz-SignedHeaders",
  signature: "X-Amz-Signature",
  date: "X-Amz-Date",
  expires: "X-Amz-Expires",
  credential: "X-Amz-Credential",
  contentSha256: "X-Amz-Content-Sha256",
  signingKeyPrefix: "AWS4",
};

// AWS's SigV4 test suite: get-vanilla and get-vanilla-query-order-key-case.
function awsRequest(query: string, signature: string): HttpRequest {
  return received({
    path: "/",
    query,
    host: "example.amazonaws.com",
    headers: {
      "x-amz-date": "20150830T123600Z",
      authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/" +
        `aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    },
  });
}
const aws = verifier({
  accessKeys: { AKIDEXAMPLE: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
  literal: AWS_LITERAL,
});

Deno.test("SignatureVerifier with AWS's literal verifies AWS SigV4 test vectors", async () => {
  await aws.verify(
    awsRequest("", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
  );
  await aws.verify(
    awsRequest(
      "Param2=value2&Param1=value1",
      "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
  );
  await assert.rejects(
    aws.verify(
      awsRequest(
        "Param2=changed",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
      ),
    ),
    /signature verification failed/,
  );
});

Deno.test("SignatureVerifier verifies AWS's presigned-URL example (query form)", async () => {
  const s3 = verifier({
    accessKeys: { AKIAIOSFODNN7EXAMPLE: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
    literal: AWS_LITERAL,
    excludeBody: true,
  });
  const req = new HttpRequest({
    path: "/test.txt",
    host: "examplebucket.s3.amazonaws.com",
    query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524" +
      "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400" +
      "&X-Amz-SignedHeaders=host&X-Amz-Signature=" +
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
  });
  await s3.verify(req, Date.UTC(2013, 4, 24, 1));
  await assert.rejects(s3.verify(req, Date.UTC(2013, 4, 26)), /signature expired/);
});

Deno.test("SignatureVerifier reads the expiry as Go's ParseUint with base 0 does", async () => {
  const s3 = verifier({
    accessKeys: { AKIAIOSFODNN7EXAMPLE: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
    literal: AWS_LITERAL,
    excludeBody: true,
  });
  const req = (expires: string) =>
    new HttpRequest({
      path: "/test.txt",
      host: "examplebucket.s3.amazonaws.com",
      query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524" +
        `%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=${expires}` +
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=" +
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    });
  const at = Date.UTC(2013, 4, 24, 1);
  // 86400 in Go's other spellings: the canonical query holds it in decimal.
  await s3.verify(req("0x15180"), at);
  await s3.verify(req("86_400"), at);
  await s3.verify(req("0250600"), at);
  // A leading zero is octal: "086400" is no number, and "0100" is 64 s, long past.
  await assert.rejects(s3.verify(req("086400"), at), /invalid query value: X-Amz-Expires/);
  await assert.rejects(s3.verify(req("0100"), at), /signature expired/);
  await assert.rejects(s3.verify(req("-1"), at), /invalid query value: X-Amz-Expires/);
});

// Signed by an independent Python implementation of the Easegress signer (default literal).
const ME_SIGNATURE = "16f17e63f340e6cc71db82b5275fca4c0023d44b984d8db54d7db0b5de32f37a";
const SIGN_TIME = Date.UTC(2024, 0, 2, 3, 4, 5);
function meRequest(
  overrides: Partial<HttpRequestInit> = {},
  signature = ME_SIGNATURE,
): HttpRequest {
  return received({
    method: "POST",
    path: "/v1/items%20x",
    query: "b=z&a=1&b=x%2By&X-Me-Date=dropped",
    host: "api.example.com:8080",
    headers: {
      "content-type": "application/json",
      "x-me-date": "20240102T030405Z",
      authorization: "ME-HMAC-SHA256 Credential=key1/20240102/region/svc/megaease_request, " +
        `SignedHeaders=content-type;host;x-me-date, Signature=${signature}`,
    },
    body: '{"hello":"world"}',
    ...overrides,
  });
}
const me = verifier({ accessKeys: { key1: "topsecret" }, ttl: "10m" });

Deno.test("SignatureVerifier checks method, path, query, signed headers and body", async () => {
  await me.verify(meRequest(), SIGN_TIME);
  await me.verify(meRequest({ host: "api.example.com:8080" }), SIGN_TIME + 60_000);
  for (
    const change of [
      { method: "PUT" },
      { path: "/v1/items" },
      { query: "a=1&b=z" },
      { host: "api.example.com" },
      { body: '{"hello":"there"}' },
    ]
  ) {
    await assert.rejects(me.verify(meRequest(change), SIGN_TIME), /signature verification failed/);
  }
});

Deno.test("SignatureVerifier hashes a body not yet read on a route with a body limit", async () => {
  const body = new Response('{"hello":"world"}').body!;
  await me.verify(
    meRequest({ body, headers: { ...headersOf(meRequest()), "content-length": "17" } }),
    SIGN_TIME,
  );
});

// The vectors below were signed by a Python transcription of Easegress's
// signer over Go's net/url (EscapedPath) and header semantics.
const DATE = "20240102T030405Z";
function signedBy(signedHeaders: string, signature: string): string {
  return "ME-HMAC-SHA256 Credential=key1/20240102/region/svc/megaease_request, " +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

Deno.test("SignatureVerifier signs a non-ASCII header value as its UTF-8 bytes", async () => {
  // As the server holds the field: each UTF-8 byte one character.
  const wire = String.fromCharCode(...new TextEncoder().encode("Zürich"));
  // canonical "x-city:Zürich", hashed as Go does: the bytes on the wire.
  const signature = "39453eaed4d6e0be524617ecf2239aab70e701a00abd19bfcc3e197d23bc1dd4";
  const headers = new HeaderFields({
    "x-me-date": DATE,
    "x-city": wire,
    authorization: signedBy("host;x-city;x-me-date", signature),
  });
  await me.verify(received({ path: "/multi", host: "api.example.com", headers }), SIGN_TIME);
});

Deno.test("SignatureVerifier joins a repeated signed header's fields with a bare comma", async () => {
  const fields = (...values: string[]) => {
    const headers = new HeaderFields({ "x-me-date": DATE });
    for (const value of values) headers.append("x-multi", value);
    headers.append(
      "authorization",
      signedBy("host;x-me-date;x-multi", SIGNATURES[values.join("|")]),
    );
    return headers;
  };
  const SIGNATURES: Record<string, string> = {
    // canonical "x-multi:a,b"
    "a|b": "80549a0ac6d691f72320869553701b325fd6a4900e2dc7b657b09e3e6a14cffc",
    // canonical "x-multi:x y,z": each field trimmed, runs of spaces folded
    "x  y|z": "9d83c1b96e22b36f1a98cfe538f37855e53a5e81fa695582f1f1b3284ed37938",
  };
  const at = (headers: Headers) =>
    me.verify(received({ path: "/multi", host: "api.example.com", headers }), SIGN_TIME);
  await at(fields("a", "b"));
  await at(fields("x  y", "z"));
  // Other fields, or the same in another order, are another value.
  const reordered = fields("a", "b");
  reordered.delete("x-multi");
  reordered.append("x-multi", "b");
  reordered.append("x-multi", "a");
  await assert.rejects(at(reordered), /signature verification failed/);
  // One field "a, b" is not the two fields "a" and "b".
  const joined = new HeaderFields({
    "x-me-date": DATE,
    "x-multi": "a, b",
    authorization: signedBy("host;x-me-date;x-multi", SIGNATURES["a|b"]),
  });
  await assert.rejects(at(joined), /signature verification failed/);
});

Deno.test("SignatureVerifier signs the body as UNSIGNED-PAYLOAD where the route streams bodies", async () => {
  const UNSIGNED = "a13098221d56cece0f04581b60e52abb88cc4bc98fd28d7a14694b71bc302fe5";
  const HASHED = "7dba29073d3e36ff51ee01b5b5ebc006c7ee7c9e786715bc63de40f894dbf6a3";
  const upload = (
    signature: string,
    body: HttpRequestInit["body"],
    replayLimit: number,
    method = "POST",
  ) =>
    received({
      method,
      path: "/upload",
      host: "api.example.com",
      headers: { "x-me-date": DATE, authorization: signedBy("host;x-me-date", signature) },
      body,
    }, replayLimit);
  const stream = () => new Response("hello").body!;
  // clientMaxBodySize -1 (replayLimit -1): every body is a stream in
  // Easegress, one still to read, one already held, or none at all.
  await me.verify(upload(UNSIGNED, stream(), -1), SIGN_TIME);
  await me.verify(upload(UNSIGNED, new TextEncoder().encode("hello"), -1), SIGN_TIME);
  await me.verify(upload(UNSIGNED, () => stream(), -1), SIGN_TIME);
  await assert.rejects(
    me.verify(upload(HASHED, stream(), -1), SIGN_TIME),
    /signature verification failed/,
  );
  await me.verify(
    upload("1bac05c4f67e9aae81596701176d6d3c00eebecc9343da1068f8cf529d9dd026", null, -1, "GET"),
    SIGN_TIME,
  );
  // With a body limit Easegress reads the body first, whatever its size, and hashes it.
  await me.verify(upload(HASHED, stream(), ROUTE_BODY_LIMIT), SIGN_TIME);
  await me.verify(upload(HASHED, stream(), 5), SIGN_TIME);
  await assert.rejects(
    me.verify(upload(UNSIGNED, stream(), ROUTE_BODY_LIMIT), SIGN_TIME),
    /signature verification failed/,
  );
  // excludeBody signs every body as UNSIGNED-PAYLOAD.
  const excluding = verifier({ accessKeys: { key1: "topsecret" }, excludeBody: true });
  await excluding.verify(upload(UNSIGNED, stream(), ROUTE_BODY_LIMIT), SIGN_TIME);
});

Deno.test("SignatureVerifier signs the path as the client escaped it (Go's EscapedPath)", async () => {
  const get = (path: string, signature: string) =>
    received({
      path,
      host: "api.example.com",
      headers: { "x-me-date": DATE, authorization: signedBy("host;x-me-date", signature) },
    });
  const vectors: [string, string][] = [
    // canonical URI "/sig/a%257Eb": %7E is not decoded to "~"
    ["/sig/a%7Eb", "0718e05ca1c16f404fbb4644a02e84ff366773327be3cc24c2bf4713a066df7c"],
    // "/sig/caf%25c3%25a9": lower-case hex kept
    ["/sig/caf%c3%a9", "6480295fc04ac9faccfbacc750f044cf64dc8ddc74d6749968b71b037ceff2aa"],
    ["/sig/caf%C3%A9", "af625c9a947b3555dd0c6db09f27dacbb97f56646957d8aa2feeb592f25b8c35"],
    // Not a valid encoding ("|"): Go escapes the decoded path, "/sig/a~%7Cb".
    ["/sig/a%7e|b", "4ab03fcc293a0872b3f7cb81f4fe8fa1ab7b39dca283f73e0d9fe4a2e5521cab"],
  ];
  for (const [path, signature] of vectors) await me.verify(get(path, signature), SIGN_TIME);
  // Spellings of the same path are different signatures.
  await assert.rejects(
    me.verify(get("/sig/a~b", vectors[0][1]), SIGN_TIME),
    /signature verification failed/,
  );
  await assert.rejects(
    me.verify(get("/sig/caf%C3%A9", vectors[1][1]), SIGN_TIME),
    /signature verification failed/,
  );
});

Deno.test("goEscapedPath keeps a valid encoding and re-escapes any other path as Go does", () => {
  assert.equal(goEscapedPath("/a%7Eb/c%2fd"), "/a%7Eb/c%2fd");
  assert.equal(goEscapedPath("/!$&'()*+,;=:@[]"), "/!$&'()*+,;=:@[]");
  assert.equal(goEscapedPath("/a%7e|b"), "/a~%7Cb");
  assert.equal(goEscapedPath("/café b"), "/caf%C3%A9%20b");
  assert.equal(goEscapedPath("/x%2a{y}"), "/x%2A%7By%7D");
  assert.equal(goEscapedPath("*"), "*");
  assert.equal(goEscapedPath(""), "");
});

function headersOf(req: HttpRequest): Record<string, string> {
  return Object.fromEntries(req.rawHeaders);
}

Deno.test("SignatureVerifier rejects expired, unknown-key and malformed signatures", async () => {
  await assert.rejects(me.verify(meRequest(), SIGN_TIME + 11 * 60_000), /signature expired/);
  await assert.rejects(me.verify(meRequest(), SIGN_TIME - 11 * 60_000), /signature expired/);
  const other = verifier({ accessKeys: { key2: "x" } });
  await assert.rejects(other.verify(meRequest(), SIGN_TIME), /access-key-id not found/);
  const wrongDate = meRequest();
  wrongDate.headers.set("x-me-date", "20240103T030405Z");
  await assert.rejects(me.verify(wrongDate, SIGN_TIME), /signature timestamp mismatch/);
  const badFormat = meRequest();
  badFormat.headers.set("authorization", "ME-HMAC-SHA256 Credential=key1/20240102/x");
  await assert.rejects(me.verify(badFormat, SIGN_TIME), /invalid header format: Authorization/);
  const noSignature = new HttpRequest({ path: "/" });
  await assert.rejects(me.verify(noSignature, SIGN_TIME), /invalid query value: X-Me-Algorithm/);
});

Deno.test("readSignatureSpec fills the default literal and checks fields", () => {
  const r = new SpecReader({ accessKeys: { k: "s" }, literal: { date: "X-My-Date" } }, "signature");
  const spec = readSignatureSpec(r);
  r.finish();
  assert.deepEqual(r.problems, []);
  assert.equal(spec.literal.date, "X-My-Date");
  assert.equal(spec.literal.algorithmValue, "ME-HMAC-SHA256");
  assert.equal(spec.ttl, "0s");
  try {
    verifier({ accessKeys: {}, ttl: "-1s", literal: { dates: "x" }, excludeBody: "maybe" });
    assert.fail("accepted");
  } catch (e) {
    assert.ok(e instanceof SpecError);
    assert.deepEqual(e.problems, [
      "signature.accessKeys: must hold at least one key id",
      'signature.ttl: must not be negative, got "-1s"',
      'signature.excludeBody: must be true or false, got "maybe"',
      "signature.literal.dates: unknown field (did you mean date?)",
    ]);
  }
});
