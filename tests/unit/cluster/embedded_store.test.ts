import assert from "node:assert/strict";
import { openEmbeddedStore } from "../../../cluster/embedded_store.ts";
import { runStoreConformance } from "./store_conformance.ts";

Deno.test("embedded store passes the Store conformance suite", async (t) => {
  const dirs: string[] = [];
  try {
    await runStoreConformance(t, {
      async open() {
        const dir = await Deno.makeTempDir({ prefix: "eg-embedded-" });
        dirs.push(dir);
        return { store: await openEmbeddedStore(dir), reopen: () => openEmbeddedStore(dir) };
      },
    });
  } finally {
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openEmbeddedStore() refuses a data dir another store holds", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await openEmbeddedStore(dir);
    try {
      await assert.rejects(() => openEmbeddedStore(dir), /in use by another node.*store\.lock/);
    } finally {
      await first.close();
    }
    const second = await openEmbeddedStore(dir);
    await second.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openEmbeddedStore() names the lock file it cannot open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A dir where the lock file goes: it cannot be opened for writing, even by root.
    await Deno.mkdir(`${dir}/store.lock`);
    await assert.rejects(
      () => openEmbeddedStore(dir),
      /Cannot open embedded store: cannot open its lock file ".*store\.lock" \(the data dir must be writable\): /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openEmbeddedStore() reports a corrupt store file and leaves it in place", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/store.json`;
    await Deno.writeTextFile(file, '{"format": 1, "revision": 3, "keys": {"/a": {"val');
    await assert.rejects(() => openEmbeddedStore(dir), (error: Error) => {
      assert.match(error.message, /store\.json" is corrupt/);
      assert.ok(error.message.includes(file), error.message);
      return true;
    });
    assert.equal(
      await Deno.readTextFile(file),
      '{"format": 1, "revision": 3, "keys": {"/a": {"val',
    );
    // The failed open released its lock.
    await Deno.remove(file);
    const store = await openEmbeddedStore(dir);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openEmbeddedStore() rejects a store file of the wrong shape", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/store.json`,
      JSON.stringify({ format: 1, revision: 1, keys: { "/a": { value: 7, revision: 1 } } }),
    );
    await assert.rejects(() => openEmbeddedStore(dir), /corrupt \(keys\["\/a"\] is not/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openEmbeddedStore() ignores a temp file left by a crash mid-write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await openEmbeddedStore(dir);
    await store.put("/kept", "yes");
    await store.close();
    await Deno.writeTextFile(`${dir}/store.json.tmp`, '{"half": ');
    const again = await openEmbeddedStore(dir);
    try {
      assert.equal((await again.get("/kept"))?.value, "yes");
    } finally {
      await again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embedded store keeps every acknowledged write when its process is killed", async () => {
  const dir = await Deno.makeTempDir();
  const moduleUrl = new URL("../../../cluster/embedded_store.ts", import.meta.url).href;
  // The writer acknowledges each put on stdout only after put() resolved.
  const writer = `
    import { openEmbeddedStore } from ${JSON.stringify(moduleUrl)};
    const store = await openEmbeddedStore(${JSON.stringify(dir)});
    const encoder = new TextEncoder();
    for (let i = 0; ; i++) {
      await store.put("/k/" + String(i).padStart(6, "0"), "v" + i);
      await Deno.stdout.write(encoder.encode(i + "\\n"));
    }
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", writer],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let acknowledged = -1;
  try {
    const decoder = new TextDecoderStream();
    const reader = child.stdout.pipeThrough(decoder).getReader();
    let buffered = "";
    while (acknowledged < 50) {
      const { value, done } = await reader.read();
      if (done) throw new Error("writer exited early");
      buffered += value;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) acknowledged = Number(line);
    }
    child.kill("SIGKILL");
    // Drain what was written before the kill: those writes were acknowledged too.
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) acknowledged = Number(line);
    }
    await child.status;

    const store = await openEmbeddedStore(dir);
    try {
      const keys = await store.range("/k/");
      assert.ok(keys.length >= acknowledged + 1, `${keys.length} keys, ${acknowledged + 1} acked`);
      for (let i = 0; i <= acknowledged; i++) {
        assert.equal(keys[i].key, "/k/" + String(i).padStart(6, "0"));
        assert.equal(keys[i].value, "v" + i);
      }
    } finally {
      await store.close();
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embedded store serializes concurrent writes in call order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await openEmbeddedStore(dir);
    try {
      const writes = Array.from({ length: 20 }, (_, i) => store.put("/same", String(i)));
      await Promise.all(writes);
      assert.equal((await store.get("/same"))?.value, "19");
      const revisions = await Promise.all(
        Array.from(
          { length: 5 },
          (_, i) => store.put(`/r${i}`, "x").then(() => store.get(`/r${i}`)),
        ),
      );
      const sorted = revisions.map((kv) => kv!.revision);
      assert.deepEqual(sorted, [...sorted].sort((a, b) => a - b));
    } finally {
      await store.close();
    }
    const reopened = await openEmbeddedStore(dir);
    try {
      assert.equal((await reopened.get("/same"))?.value, "19");
    } finally {
      await reopened.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embedded store rejects use after close with a clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await openEmbeddedStore(dir);
    await store.close();
    await store.close();
    await assert.rejects(() => store.get("/a"), /embedded store .* is closed/);
    await assert.rejects(() => store.put("/a", "x"), /is closed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embedded store: a failed write names the store file, changes nothing and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await openEmbeddedStore(dir);
    try {
      await store.put("/kept", "yes");
      // Every write to /dev/full fails with "No space left on device", even as root.
      await Deno.symlink("/dev/full", `${dir}/store.json.tmp`);
      await assert.rejects(() => store.put("/new", "x"), (error: Error) => {
        assert.ok(error.message.includes(`"${dir}/store.json"`), error.message);
        assert.match(error.message, /No space left on device/);
        return true;
      });
      assert.equal(await store.get("/new"), undefined);
      await assert.rejects(() => Deno.lstat(`${dir}/store.json.tmp`), Deno.errors.NotFound);
      await store.put("/new", "y");
      assert.equal((await store.get("/new"))?.value, "y");
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
