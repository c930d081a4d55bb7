import assert from "node:assert/strict";
import { HttpRequest, type HttpRequestInit } from "../../../filters/context.ts";
import { readSignatureSpec, SignatureVerifier } from "../../../filters/signature.ts";
import { SpecError, SpecReader } from "../../../filters/spec.ts";

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
  return new HttpRequest({
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

// Signed by an independent Python implementation of the Easegress signer (default literal).
const ME_SIGNATURE = "16f17e63f340e6cc71db82b5275fca4c0023d44b984d8db54d7db0b5de32f37a";
const SIGN_TIME = Date.UTC(2024, 0, 2, 3, 4, 5);
function meRequest(
  overrides: Partial<HttpRequestInit> = {},
  signature = ME_SIGNATURE,
): HttpRequest {
  return new HttpRequest({
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

Deno.test("SignatureVerifier hashes a streamed body of known length", async () => {
  const body = new Response('{"hello":"world"}').body!;
  await me.verify(
    meRequest({ body, headers: { ...headersOf(meRequest()), "content-length": "17" } }),
    SIGN_TIME,
  );
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
    verifier({ accessKeys: {}, ttl: "-1s", literal: { dates: "x" }, excludeBody: "yes" });
    assert.fail("accepted");
  } catch (e) {
    assert.ok(e instanceof SpecError);
    assert.deepEqual(e.problems, [
      "signature.accessKeys: must hold at least one key id",
      'signature.ttl: must not be negative, got "-1s"',
      'signature.excludeBody: must be true or false, got "yes"',
      "signature.literal.dates: unknown field",
    ]);
  }
});
