import assert from "node:assert/strict";
import { withBasicAuth } from "../../../server/admin/basic_auth.ts";

const guarded = withBasicAuth({ admin: "s3cret" }, () => new Response("served"));

function request(authorization?: string, accept?: string): Request {
  const headers = new Headers();
  if (authorization !== undefined) headers.set("authorization", authorization);
  if (accept !== undefined) headers.set("accept", accept);
  return new Request("http://127.0.0.1/apis/v2/objects", { headers });
}

Deno.test("basic auth: the right user and password reach the handler", async () => {
  const res = await guarded(request(`Basic ${btoa("admin:s3cret")}`));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "served");
});

Deno.test("basic auth: a refusal is YAML {code, message} with the challenge, as other admin errors", async () => {
  for (const authorization of [undefined, `Basic ${btoa("admin:wrong")}`, "Basic !!", "Bearer x"]) {
    const res = await guarded(request(authorization));
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Basic realm="easegress"');
    assert.equal(res.headers.get("content-type"), "text/vnd.yaml");
    assert.equal(await res.text(), "code: 401\nmessage: unauthorized\n");
  }
});

Deno.test("basic auth: a refusal is JSON when the client accepts JSON", async () => {
  const res = await guarded(request(`Basic ${btoa("admin:wrong")}`, "application/json"));
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.deepEqual(await res.json(), { code: 401, message: "unauthorized" });
});
