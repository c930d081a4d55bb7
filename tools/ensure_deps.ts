/**
 * Makes sure the Debian programs a task needs are installed: says what is
 * missing, installs it with apt-get when running as root, and otherwise
 * fails naming the packages to install.
 *
 * Usage: deno run -A tools/ensure_deps.ts test|bench
 *
 * @module
 */

/** program on PATH -> Debian package that ships it. */
const NEEDS: Record<string, Record<string, string>> = {
  test: {
    etcd: "etcd-server",
    gtlsclient: "ngtcp2-client",
    openssl: "openssl",
    curl: "curl",
    h2load: "nghttp2-client",
    pebble: "pebble",
    // The ZooKeeper server's jar comes with it (zookeeper), Java as its dependency.
    zooinspector: "zookeeperd",
    mosquitto_sub: "mosquitto-clients",
    wat2wasm: "wabt",
  },
  bench: {
    nginx: "nginx-light",
    haproxy: "haproxy",
    wrk: "wrk",
    h2load: "nghttp2-client",
  },
};

/** Whether `program` is a file in a PATH folder (or in /usr/sbin, /sbin, where Debian puts daemons). */
export function onPath(program: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      if (Deno.statSync(`${dir}/${program}`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

async function run(cmd: string, args: string[]): Promise<boolean> {
  const status = await new Deno.Command(cmd, {
    args,
    stdout: "inherit",
    stderr: "inherit",
    env: { DEBIAN_FRONTEND: "noninteractive" },
  }).spawn().status;
  return status.success;
}

async function main(which: string): Promise<number> {
  const needs = NEEDS[which];
  if (!needs) {
    console.error(`Usage: ensure_deps.ts ${Object.keys(NEEDS).join("|")}`);
    return 2;
  }
  const missing = [
    ...new Set(Object.entries(needs).filter(([p]) => !onPath(p)).map(([, pkg]) => pkg)),
  ];
  if (!missing.length) return 0;
  console.error(`Installing Debian packages needed for ${which}: ${missing.join(" ")}`);
  const root = Deno.uid?.() === 0;
  if (!root || !onPath("apt-get")) {
    console.error(`Cannot install them here: run as root: apt-get install -y ${missing.join(" ")}`);
    return 1;
  }
  if (!(await run("apt-get", ["install", "-y", "-qq", ...missing]))) {
    // The package lists may be missing on a fresh machine.
    if (
      !(await run("apt-get", ["update", "-qq"])) ||
      !(await run("apt-get", ["install", "-y", "-qq", ...missing]))
    ) {
      console.error(`apt-get could not install: ${missing.join(" ")}`);
      return 1;
    }
  }
  // Debian starts some daemons (etcd) on install; tests start their own.
  if (missing.includes("etcd-server")) {
    await run("sh", ["-c", "systemctl stop etcd 2>/dev/null; pkill -x etcd || true"]);
  }
  if (missing.includes("zookeeperd")) {
    await run("sh", [
      "-c",
      "systemctl stop zookeeper 2>/dev/null; pkill -f QuorumPeerMain || true",
    ]);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args[0] ?? "test"));
