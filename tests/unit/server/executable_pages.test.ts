import assert from "node:assert/strict";
import { pageOutExecutable, readOnlyMappingsOf } from "../../../server/executable_pages.ts";

const MAPS = `55d0c2a00000-55d0c2c00000 r--p 00000000 08:01 123 /usr/bin/deno
55d0c2c00000-55d0c3000000 r-xp 00200000 08:01 123 /usr/bin/deno
55d0c3000000-55d0c3010000 rw-p 00600000 08:01 123 /usr/bin/deno
55d0c3010000-55d0c3020000 r--p 00000000 08:01 124 /usr/bin/deno-old
7f0000000000-7f0000001000 r--p 00000000 08:01 125 /opt/my app/deno
7f0000002000-7f0000003000 rw-p 00000000 00:00 0
`;

Deno.test("readOnlyMappingsOf keeps the executable's read-only mappings, never writable ones", () => {
  assert.deepEqual(readOnlyMappingsOf(MAPS, "/usr/bin/deno"), [
    { start: 0x55d0c2a00000n, length: 0x200000n },
    { start: 0x55d0c2c00000n, length: 0x400000n },
  ]);
  assert.deepEqual(readOnlyMappingsOf(MAPS, "/opt/my app/deno"), [
    { start: 0x7f0000000000n, length: 0x1000n },
  ]);
  assert.deepEqual(readOnlyMappingsOf(MAPS, "/usr/bin/other"), []);
});

/** Resident pages mapped from files, in kB, from /proc/self/status. */
function residentFileKb(): number {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n")
    .find((l) => l.startsWith("RssFile:"));
  return Number(line?.split(/\s+/)[1]);
}

/**
 * Whether another process runs this executable: the kernel pages out only
 * pages no other process maps, so then the resident size need not shrink.
 */
function executableShared(): boolean {
  const exe = Deno.execPath();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || entry.name === String(Deno.pid)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${entry.name}/exe`) === exe) return true;
    } catch {
      // Gone, or not ours to read.
    }
  }
  return false;
}

Deno.test({
  name: "pageOutExecutable gives the executable's resident pages back, and the process runs on",
  ignore: Deno.build.os !== "linux",
  fn() {
    const shared = executableShared();
    const before = residentFileKb();
    const advised = pageOutExecutable();
    const after = residentFileKb();
    assert.ok(advised > 0, "no mapping of the executable was advised");
    if (!shared) {
      assert.ok(after < before, `resident file pages did not shrink: ${before} -> ${after} kB`);
    }
    // Code the test runs next faults back in.
    assert.equal(JSON.parse(JSON.stringify({ still: "working" })).still, "working");
  },
});
