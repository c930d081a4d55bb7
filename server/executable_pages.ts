/**
 * Gives back the executable's pages that starting up touched. The runtime's
 * binary is mapped from disk, and a node's start runs much of it once only
 * (module loading and transpiling, the startup snapshot, the admin API's
 * first requests): about 25 of its 45-48 MB of resident pages, measured
 * after a proxied burst. Serving needs the rest, which the first requests
 * after this fault back in (one proxied request after it took 13-22 ms
 * instead of 2 ms, reading 8-9 MB of code back).
 *
 * Linux only (`madvise(MADV_PAGEOUT)`, kernel 5.4 or later, through the
 * runtime's FFI and glibc); elsewhere, or without the FFI permission, it
 * does nothing. Read-only mappings only: writable ones hold the process's
 * own data.
 *
 * @module
 */

/** `madvise` advice: reclaim these pages now (Linux 5.4+). */
const MADV_PAGEOUT = 21;

/** One mapping of the executable: where it starts and how long it is. */
export interface MappedRange {
  start: bigint;
  length: bigint;
}

/**
 * The read-only mappings of `path` in a `/proc/<pid>/maps` text: the
 * executable's code and constants, never its writable data.
 */
export function readOnlyMappingsOf(maps: string, path: string): MappedRange[] {
  const ranges: MappedRange[] = [];
  for (const line of maps.split("\n")) {
    // "start-end perms offset dev inode   pathname"
    const fields = line.split(/\s+/);
    if (fields.length < 6 || fields.slice(5).join(" ") !== path) continue;
    if (fields[1][1] === "w") continue;
    const dash = fields[0].indexOf("-");
    const start = BigInt(`0x${fields[0].slice(0, dash)}`);
    const end = BigInt(`0x${fields[0].slice(dash + 1)}`);
    ranges.push({ start, length: end - start });
  }
  return ranges;
}

/**
 * Asks the kernel to reclaim the resident pages of this process's
 * executable; returns the bytes of the mappings it accepted the advice
 * for (0 where that cannot be done here).
 */
export function pageOutExecutable(): number {
  if (Deno.build.os !== "linux") return 0;
  let libc: Deno.DynamicLibrary<{
    madvise: { parameters: ["pointer", "usize", "i32"]; result: "i32" };
  }>;
  let ranges: MappedRange[];
  try {
    ranges = readOnlyMappingsOf(
      Deno.readTextFileSync("/proc/self/maps"),
      Deno.realPathSync(Deno.execPath()),
    );
    libc = Deno.dlopen("libc.so.6", {
      madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
    });
  } catch {
    // No /proc, no glibc, or no read/FFI permission: keep the pages.
    return 0;
  }
  let advised = 0;
  try {
    for (const { start, length } of ranges) {
      const address = Deno.UnsafePointer.create(start);
      if (libc.symbols.madvise(address, length, MADV_PAGEOUT) === 0) advised += Number(length);
    }
  } finally {
    libc.close();
  }
  return advised;
}
