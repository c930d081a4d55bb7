import assert from "node:assert/strict";
import { errorText } from "../../../server/error_text.ts";

Deno.test("errorText adds the cause's message that the message lacks", () => {
  const e = new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED") });
  assert.equal(errorText(e), "fetch failed: connect ECONNREFUSED");
});

Deno.test("errorText does not repeat a cause the message already quotes", () => {
  const cause = new Error("14 UNAVAILABLE: Connection dropped");
  const e = new Error(`Cannot range "/wasm/data/": etcd is unavailable (${cause.message})`, {
    cause,
  });
  assert.equal(errorText(e), `Cannot range "/wasm/data/": etcd is unavailable (${cause.message})`);
});

Deno.test("errorText takes a value that is not an Error", () => {
  assert.equal(errorText("plain"), "plain");
});
