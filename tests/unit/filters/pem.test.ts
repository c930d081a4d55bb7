import assert from "node:assert/strict";
import { keyPairProblems } from "../../../filters/pem.ts";

Deno.test("keyPairProblems skips values left out, and names empty ones", () => {
  assert.deepEqual(keyPairProblems("cert", undefined, "key", undefined), []);
  assert.deepEqual(keyPairProblems("certs.a", "", "keys.a", ""), [
    ["certs.a", "is empty"],
    ["keys.a", "is empty"],
  ]);
  assert.deepEqual(keyPairProblems("cert", "x", "key", undefined), [
    ["cert", "is neither PEM nor base64-encoded PEM"],
  ]);
});
