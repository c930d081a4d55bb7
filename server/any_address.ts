/**
 * The address a listening object (HTTPServer, WebSocketServer, MQTTProxy)
 * binds when its spec names none. Easegress listens on ":port", every IPv6
 * and IPv4 address of the host; here that is
 * "::" on Linux hosts that have IPv6 and answer IPv4 on IPv6 sockets
 * (`net.ipv6.bindv6only` 0, the default), where IPv4 clients then arrive
 * as IPv4-mapped addresses (reported as IPv4, see httpserver/client.ts). Elsewhere
 * (no IPv6, v6-only sockets, other systems) "0.0.0.0" keeps IPv4 clients.
 *
 * @module
 */

let any: string | undefined;

/** "::" where it takes IPv4 clients too, else "0.0.0.0"; found once per process. */
export function anyAddress(): string {
  return any ??= dualStack() ? "::" : "0.0.0.0";
}

function dualStack(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    if (Deno.readTextFileSync("/proc/sys/net/ipv6/bindv6only").trim() !== "0") return false;
    Deno.listen({ hostname: "::", port: 0 }).close();
    return true;
  } catch {
    return false; // no IPv6 (or no way to tell): IPv4 only, as before
  }
}
