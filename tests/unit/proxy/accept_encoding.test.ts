/** The Proxy's compression reads Accept-Encoding as RFC 9110 section 12.5.3 has it. */

import assert from "node:assert/strict";
import { acceptsGzip } from "../../../filters/gzip.ts";

Deno.test("acceptsGzip takes gzip named in any case, or x-gzip, with a weight above 0", () => {
  for (
    const value of [
      "gzip",
      "GZIP",
      "gzip, deflate, br, zstd",
      "br,gzip",
      " deflate ,\tgzip ",
      "x-gzip",
      "X-Gzip;q=1",
      "gzip;q=0.001",
      "gzip; q=1.0",
      "gzip;Q=0.5",
      "gzip;level=9;q=0.5",
      "gzip;q=0, gzip;q=0.5",
    ]
  ) {
    assert.equal(acceptsGzip(value), true, value);
  }
});

Deno.test("acceptsGzip refuses q=0, an unlisted gzip, and a malformed weight", () => {
  for (
    const value of [
      "",
      " ",
      "gzip;q=0",
      "GZIP;Q=0.000",
      "gzip; q=0, *",
      "deflate, br",
      "identity",
      "gzipped, xgzip, gzip2",
      "gzip;q=",
      "gzip;q=2",
      "gzip;q=-1",
      "gzip;q=high",
    ]
  ) {
    assert.equal(acceptsGzip(value), false, value);
  }
});

Deno.test("acceptsGzip takes * (and */*, as Easegress) for an unlisted gzip, by its weight", () => {
  assert.equal(acceptsGzip("*"), true);
  assert.equal(acceptsGzip("br;q=1, *;q=0.1"), true);
  assert.equal(acceptsGzip("*/*"), true);
  assert.equal(acceptsGzip("*;q=0"), false);
  assert.equal(acceptsGzip("br, *;q=0"), false);
  assert.equal(acceptsGzip("gzip;q=0.5, *;q=0"), true, "gzip's own weight decides");
  assert.equal(acceptsGzip("*;q=1, gzip;q=0"), false, "gzip's own weight decides");
});
