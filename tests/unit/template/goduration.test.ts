import assert from "node:assert/strict";
import { durationString, millisecondsString } from "../../../filters/template/goduration.ts";

Deno.test("millisecondsString writes what Go's Duration.String writes, to the nanosecond", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [0.000001, "1ns"],
    [0.0123, "12.3µs"],
    [1, "1ms"],
    [2.5, "2.5ms"],
    [1000.25, "1.00025s"],
    [90_000, "1m30s"],
    [3_600_000, "1h0m0s"],
  ];
  for (const [ms, want] of cases) assert.equal(millisecondsString(ms), want, `${ms} ms`);
  let seed = 11;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const ms = (seed / 2147483648) * 10 ** (i % 9 - 4);
    assert.equal(millisecondsString(ms), durationString(BigInt(Math.round(ms * 1e6))), `${ms} ms`);
  }
});
