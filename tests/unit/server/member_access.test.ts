import assert from "node:assert/strict";
import { memberAccess } from "../../../server/admin/member_access.ts";

Deno.test("member access: plain HTTP without credentials for an admin API that is not secured", () => {
  const access = memberAccess(undefined, {});
  assert.equal(access.scheme, "http");
  assert.deepEqual(access.headers, {});
  assert.equal(access.client, undefined);
});

Deno.test("member access: basic auth as the first user, over plain HTTP without --tls", () => {
  const access = memberAccess(undefined, { admin: "s3cret", other: "x" });
  assert.equal(access.scheme, "http");
  assert.deepEqual(access.headers, { authorization: `Basic ${btoa("admin:s3cret")}` });
});
