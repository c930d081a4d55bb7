/**
 * The {@linkcode Store} contract as one suite that every implementation runs:
 * the embedded store in unit tests, etcd in integration tests.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Store, WatchEvent } from "../../../cluster/store.ts";

/** A store under test plus a way to look at its data again after closing it. */
export interface OpenedStore {
  readonly store: Store;
  /**
   * Opens a second store over the same data; called only after `store` is
   * closed (the embedded store allows one opener at a time).
   */
  reopen(): Promise<Store>;
}

/** Opens stores for the suite; each call must give a store of its own, empty. */
export interface StoreFixture {
  open(): Promise<OpenedStore>;
}

/** Runs every contract check as a step of `t` against stores from `fixture`. */
export async function runStoreConformance(
  t: Deno.TestContext,
  fixture: StoreFixture,
): Promise<void> {
  for (const [name, check] of Object.entries(checks)) {
    await t.step(name, async () => {
      const opened = await fixture.open();
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await opened.store.close();
      };
      try {
        await check(opened.store, { close, reopen: opened.reopen });
      } finally {
        await close();
      }
    });
  }
}

interface CheckTools {
  /** Closes the store under test (idempotent; also done after the check). */
  close(): Promise<void>;
  reopen(): Promise<Store>;
}

type Check = (store: Store, tools: CheckTools) => Promise<void>;

const checks: Record<string, Check> = {
  "get() returns undefined for a missing key": async (store) => {
    assert.equal(await store.get("/missing"), undefined);
  },

  "put() then get() returns the value and a positive revision": async (store) => {
    assert.equal(await store.put("/a", "one"), true);
    const kv = await store.get("/a");
    assert.equal(kv?.key, "/a");
    assert.equal(kv?.value, "one");
    assert.ok(kv!.revision > 0, `revision ${kv?.revision} should be > 0`);
  },

  "put() changes the revision on every write": async (store) => {
    await store.put("/a", "one");
    const first = (await store.get("/a"))!.revision;
    await store.put("/a", "one");
    const second = (await store.get("/a"))!.revision;
    await store.put("/a", "two");
    const third = (await store.get("/a"))!.revision;
    assert.ok(first < second && second < third, `${first} < ${second} < ${third}`);
  },

  "values round-trip byte for byte (YAML, unicode, empty)": async (store) => {
    const yaml = 'name: demo\nkind: HTTPServer\nrules:\n  - host: "é.example"\n    path: /✓\n';
    await store.put("/yaml", yaml);
    await store.put("/empty", "");
    assert.equal((await store.get("/yaml"))?.value, yaml);
    assert.equal((await store.get("/empty"))?.value, "");
  },

  "range() returns the keys under a prefix, sorted by key": async (store) => {
    await store.put("/objects/b", "2");
    await store.put("/objects/a", "1");
    await store.put("/objects/c/d", "3");
    await store.put("/objectsX", "not under the prefix");
    await store.put("/other", "no");
    const found = await store.range("/objects/");
    assert.deepEqual(found.map((kv) => [kv.key, kv.value]), [
      ["/objects/a", "1"],
      ["/objects/b", "2"],
      ["/objects/c/d", "3"],
    ]);
    for (const kv of found) assert.equal(kv.revision, (await store.get(kv.key))!.revision);
    assert.deepEqual(await store.range("/nothing/"), []);
  },

  "put() with expectRevision 0 writes only when the key is absent": async (store) => {
    assert.equal(await store.put("/lock", "first", { expectRevision: 0 }), true);
    assert.equal(await store.put("/lock", "second", { expectRevision: 0 }), false);
    assert.equal((await store.get("/lock"))?.value, "first");
  },

  "put() with expectRevision writes only when the revision matches": async (store) => {
    await store.put("/cas", "v1");
    const v1 = (await store.get("/cas"))!.revision;
    assert.equal(await store.put("/cas", "v2", { expectRevision: v1 }), true);
    assert.equal(await store.put("/cas", "stale", { expectRevision: v1 }), false);
    assert.equal((await store.get("/cas"))?.value, "v2");
    assert.equal(await store.put("/absent", "x", { expectRevision: v1 }), false);
    assert.equal(await store.get("/absent"), undefined);
  },

  "racing compare-and-swap writers: exactly one wins": async (store) => {
    await store.put("/counter", "0");
    const { revision } = (await store.get("/counter"))!;
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => store.put("/counter", String(n), { expectRevision: revision })),
    );
    assert.equal(results.filter(Boolean).length, 1);
    const winner = results.indexOf(true) + 1;
    assert.equal((await store.get("/counter"))?.value, String(winner));
  },

  "delete() removes a key and reports whether it existed": async (store) => {
    await store.put("/d", "x");
    assert.equal(await store.delete("/d"), true);
    assert.equal(await store.get("/d"), undefined);
    assert.equal(await store.delete("/d"), false);
  },

  "delete() with expectRevision deletes only the expected version": async (store) => {
    await store.put("/d", "x");
    const old = (await store.get("/d"))!.revision;
    await store.put("/d", "y");
    assert.equal(await store.delete("/d", { expectRevision: old }), false);
    assert.equal((await store.get("/d"))?.value, "y");
    const current = (await store.get("/d"))!.revision;
    assert.equal(await store.delete("/d", { expectRevision: current }), true);
    assert.equal(await store.get("/d"), undefined);
  },

  "deletePrefix() removes only keys under the prefix and counts them": async (store) => {
    await store.put("/s/a", "1");
    await store.put("/s/b/c", "2");
    await store.put("/s/e", "3", { ephemeral: true });
    await store.put("/sX", "keep");
    assert.equal(await store.deletePrefix("/s/"), 3);
    assert.deepEqual(await store.range("/s/"), []);
    assert.equal((await store.get("/sX"))?.value, "keep");
    assert.equal(await store.deletePrefix("/s/"), 0);
  },

  "writeAll() puts then deletes, skipping absent keys, and watchers see it in that order": async (
    store,
  ) => {
    await store.put("/b/old", "1");
    await store.put("/b/keep", "2");
    const seen: WatchEvent[] = [];
    const controller = new AbortController();
    store.watch("/b/", (events) => seen.push(...events), controller.signal);
    try {
      await store.writeAll([["/b/new", "3"], ["/b/keep", "4"]], ["/b/old", "/b/absent"]);
      assert.deepEqual(
        (await store.range("/b/")).map((kv) => `${kv.key}=${kv.value}`),
        ["/b/keep=4", "/b/new=3"],
      );
      await waitFor(() => seen.length >= 3, () => `3 events, got ${JSON.stringify(seen)}`);
      assert.deepEqual(seen.map(describeEvent), [
        "put /b/new=3",
        "put /b/keep=4",
        "delete /b/old",
      ]);
      await store.writeAll([], []);
    } finally {
      controller.abort();
    }
  },

  "watch() delivers puts and deletes under the prefix, in order": async (store) => {
    const seen: WatchEvent[] = [];
    const controller = new AbortController();
    store.watch("/w/", (events) => seen.push(...events), controller.signal);
    try {
      await store.put("/w/a", "1");
      await store.put("/other", "ignored");
      await store.put("/w/a", "2");
      await store.put("/w/b", "3");
      await store.delete("/w/a");
      await store.deletePrefix("/w/");
      await waitFor(() => seen.length >= 5, () => `5 events, got ${JSON.stringify(seen)}`);
      assert.deepEqual(seen.map(describeEvent), [
        "put /w/a=1",
        "put /w/a=2",
        "put /w/b=3",
        "delete /w/a",
        "delete /w/b",
      ]);
    } finally {
      controller.abort();
    }
  },

  "watch() stops delivering once its signal aborts": async (store) => {
    const first: WatchEvent[] = [];
    const second: WatchEvent[] = [];
    const firstController = new AbortController();
    const secondController = new AbortController();
    store.watch("/w/", (events) => first.push(...events), firstController.signal);
    store.watch("/w/", (events) => second.push(...events), secondController.signal);
    try {
      await store.put("/w/before", "1");
      await waitFor(() => first.length === 1 && second.length === 1, "both watchers see /w/before");
      firstController.abort();
      await store.put("/w/after", "2");
      await waitFor(() => second.length === 2, "the second watcher sees /w/after");
      assert.deepEqual(first.map(describeEvent), ["put /w/before=1"]);
    } finally {
      firstController.abort();
      secondController.abort();
    }
  },

  "watch() with an aborted signal delivers nothing": async (store) => {
    const seen: WatchEvent[] = [];
    const aborted = new AbortController();
    aborted.abort();
    store.watch("/w/", (events) => seen.push(...events), aborted.signal);
    const live: WatchEvent[] = [];
    const controller = new AbortController();
    store.watch("/w/", (events) => live.push(...events), controller.signal);
    try {
      await store.put("/w/x", "1");
      await waitFor(() => live.length === 1, "the live watcher sees /w/x");
      assert.deepEqual(seen, []);
    } finally {
      controller.abort();
    }
  },

  "ephemeral keys are readable, then gone after close; persistent ones stay": async (
    store,
    { close, reopen },
  ) => {
    await store.put("/status/members/n1", "alive", { ephemeral: true });
    await store.put("/config/objects/o1", "spec");
    assert.equal((await store.get("/status/members/n1"))?.value, "alive");
    assert.deepEqual((await store.range("/status/")).map((kv) => kv.key), ["/status/members/n1"]);
    await close();
    const again = await reopen();
    try {
      assert.equal(await again.get("/status/members/n1"), undefined);
      assert.equal((await again.get("/config/objects/o1"))?.value, "spec");
    } finally {
      await again.close();
    }
  },

  "a key rewritten without ephemeral becomes persistent": async (store, { close, reopen }) => {
    await store.put("/k", "ephemeral", { ephemeral: true });
    await store.put("/k", "persistent");
    await store.put("/j", "persistent");
    await store.put("/j", "ephemeral", { ephemeral: true });
    await close();
    const again = await reopen();
    try {
      assert.equal((await again.get("/k"))?.value, "persistent");
      assert.equal(await again.get("/j"), undefined);
    } finally {
      await again.close();
    }
  },

  "revisions keep growing across a reopen": async (store, { close, reopen }) => {
    await store.put("/r", "1");
    const before = (await store.get("/r"))!.revision;
    await close();
    const again = await reopen();
    try {
      assert.equal((await again.get("/r"))?.revision, before);
      assert.equal(await again.put("/r", "2", { expectRevision: before }), true);
      assert.ok((await again.get("/r"))!.revision > before);
    } finally {
      await again.close();
    }
  },
};

function describeEvent(event: WatchEvent): string {
  return event.type === "put" ? `put ${event.key}=${event.value}` : `delete ${event.key}`;
}

/**
 * Polls `condition` until it holds; fails after `timeoutMs` naming what it
 * waited for. A safety net for asynchronous delivery, not a timing check.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${typeof what === "string" ? what : what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
