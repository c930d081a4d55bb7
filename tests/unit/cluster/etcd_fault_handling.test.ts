import assert from "node:assert/strict";
import { GRPCDeadlineExceededError, GRPCUnavailableError } from "etcd3";
import { CircuitOpenError, faultHandling } from "../../../cluster/etcd_fault_handling.ts";

type Call = (context: { signal: AbortSignal }) => Promise<string>;
type Policy = { execute(call: Call): Promise<string> };

Deno.test("a host that failed is tried by one call at a time; the others skip it meanwhile", async () => {
  const host = faultHandling({ breakerOpenMs: 10 }).host!("h1") as unknown as Policy;
  const timedOut = () => Promise.reject(new GRPCDeadlineExceededError("deadline exceeded"));
  for (let i = 0; i < 3; i++) await assert.rejects(host.execute(timedOut));
  await assert.rejects(host.execute(() => Promise.resolve("not sent")), CircuitOpenError);
  await new Promise((resolve) => setTimeout(resolve, 20));

  // The trial hangs, as a call to a frozen etcd does until its deadline.
  const { promise: hanging, reject: deadline } = Promise.withResolvers<string>();
  const trial = host.execute(() => hanging);
  await assert.rejects(host.execute(() => Promise.resolve("not sent")), CircuitOpenError);
  deadline(new GRPCDeadlineExceededError("deadline exceeded"));
  await assert.rejects(trial, GRPCDeadlineExceededError);
  await assert.rejects(host.execute(() => Promise.resolve("not sent")), CircuitOpenError);

  // A trial that succeeds closes the breaker.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await host.execute(() => Promise.resolve("back")), "back");
  const [a, b] = await Promise.all([
    host.execute(() => Promise.resolve("a")),
    host.execute(() => Promise.resolve("b")),
  ]);
  assert.deepEqual([a, b], ["a", "b"]);
});

Deno.test("a skipped host is reported with why its last call failed", async () => {
  const host = faultHandling({ breakerOpenMs: 1_000 }).host!(
    "http://127.0.0.1:1",
  ) as unknown as Policy;
  const refused = () =>
    Promise.reject(
      new GRPCUnavailableError(
        "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED " +
          "127.0.0.1:1. Resolution note: ",
      ),
    );
  for (let i = 0; i < 3; i++) await assert.rejects(host.execute(refused));
  await assert.rejects(host.execute(() => Promise.resolve("not sent")), (error: Error) => {
    assert.ok(error instanceof CircuitOpenError);
    assert.equal(
      error.message,
      "etcd http://127.0.0.1:1 skipped after 3 failed calls in a row, the last: 14 UNAVAILABLE: " +
        "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.",
    );
    return true;
  });
});
