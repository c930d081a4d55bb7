import assert from "node:assert/strict";
import { AbortNotice } from "../../../filters/abort_watch.ts";
import { Context } from "../../../filters/context.ts";

Deno.test("AbortNotice runs each listener once, in order, with the flag and reason set", () => {
  const notice = new AbortNotice();
  const calls: string[] = [];
  notice.addEventListener("abort", () => calls.push(`a:${notice.aborted}`));
  notice.addEventListener("abort", () => calls.push("b"));
  notice.addEventListener("abort", () => calls.push("c"));
  assert.equal(notice.aborted, false);
  notice.abort("gone");
  notice.abort("again");
  assert.deepEqual(calls, ["a:true", "b", "c"]);
  assert.equal(notice.reason, "gone");
});

Deno.test("AbortNotice gives an AbortError reason by default", () => {
  const notice = new AbortNotice();
  notice.abort();
  assert.ok(notice.reason instanceof DOMException);
  assert.equal((notice.reason as DOMException).name, "AbortError");
});

Deno.test("AbortNotice does not run removed listeners, nor ones added after the abort", () => {
  const notice = new AbortNotice();
  const calls: string[] = [];
  const first = () => calls.push("first");
  const second = () => calls.push("second");
  const third = () => calls.push("third");
  notice.addEventListener("abort", first);
  notice.addEventListener("abort", second);
  notice.addEventListener("abort", third);
  notice.removeEventListener("abort", first);
  notice.removeEventListener("abort", third);
  notice.removeEventListener("abort", () => {});
  // A listener added after the first slot emptied still runs after the earlier ones.
  notice.addEventListener("abort", () => calls.push("fourth"));
  notice.abort();
  notice.addEventListener("abort", () => calls.push("late"));
  assert.deepEqual(calls, ["second", "fourth"]);
});

Deno.test("AbortNotice.clear drops listeners but keeps the flag usable", () => {
  const notice = new AbortNotice();
  let ran = 0;
  notice.addEventListener("abort", () => ran++);
  notice.clear();
  notice.addEventListener("abort", () => ran += 10);
  notice.abort();
  assert.equal(ran, 10);
  assert.equal(notice.aborted, true);
});

Deno.test("AbortNotice reports a throwing listener and still runs the others", () => {
  const notice = new AbortNotice();
  const reported: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    reported.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    let ran = false;
    notice.addEventListener("abort", () => {
      throw new Error("listener bug");
    });
    notice.addEventListener("abort", () => ran = true);
    notice.abort();
    assert.equal(ran, true);
    assert.equal((reported[0] as Error).message, "listener bug");
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});

Deno.test("Context.abortWatch is the client's watch, else its signal, else never aborted", () => {
  const notice = new AbortNotice();
  const signal = new AbortController().signal;
  assert.equal(new Context(undefined, { abortWatch: notice, signal }).abortWatch, notice);
  assert.equal(new Context(undefined, { signal }).abortWatch, signal);
  assert.equal(new Context().abortWatch.aborted, false);
});
