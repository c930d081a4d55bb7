/**
 * Which listening object (HTTPServer, WebSocketServer, MQTTProxy) holds each
 * port of a data plane. Listeners share ports with `reusePort` (workers,
 * several nodes on one host), so the kernel would let two objects of one
 * node bind the same port and split its connections between them; Easegress
 * fails the second with "address already in use". The holder keeps its port
 * across reconciles; a newcomer that wants it is refused, the same way in
 * every plane, since each sees the same sequence of desired sets.
 *
 * @module
 */

import { parseIP } from "../filters/ip_address.ts";
import type { ObjectSpec } from "./objects.ts";

/** A listening object's claim. */
interface Claim {
  readonly name: string;
  readonly kind: string;
  readonly port: number;
  /**
   * The listen address as the socket sees it (see addressKeys): one
   * spelling per address; undefined for every interface.
   */
  readonly address: readonly string[] | undefined;
}

const LISTENING_KINDS = new Set(["HTTPServer", "WebSocketServer", "MQTTProxy"]);
/** The loopback addresses "localhost" may bind, as addressKeys spells them. */
const LOOPBACK_KEYS = [`4/${0x7f000001n}`, "6/1"];

/** The ports held by a plane's listening objects. */
export class PortClaims {
  #holders: Claim[] = [];

  /**
   * Settles the claims of `desired` (in order): objects already holding
   * their port keep it, others take a free one. Returns the objects refused,
   * by name, with the reason (naming the `port` field and the holder).
   */
  settle(desired: readonly ObjectSpec[]): Map<string, string> {
    const wanted = new Map<string, Claim>();
    for (const spec of desired) {
      if (!LISTENING_KINDS.has(spec.kind)) continue;
      const { name, kind, port, address } = spec as { port: number; address?: string } & ObjectSpec;
      wanted.set(name, { name, kind, port, address: addressKeys(address) });
    }
    // Holders whose claim is unchanged keep their ports.
    const holders = this.#holders.filter((h) => sameClaim(wanted.get(h.name), h));
    const held = new Set(holders.map((h) => h.name));
    const refused = new Map<string, string>();
    for (const claim of wanted.values()) {
      if (held.has(claim.name)) continue;
      const holder = holders.find((h) => overlaps(h, claim));
      if (holder) {
        refused.set(
          claim.name,
          `port: ${claim.port} is already used by ${holder.kind} ${holder.name}`,
        );
      } else holders.push(claim);
    }
    this.#holders = holders;
    return refused;
  }
}

/**
 * The addresses a listen address binds, one key per address whatever its
 * spelling: "[::1]", "::1" and "0:0:0:0:0:0:0:1" are one address, as are
 * "127.0.0.1" and "::ffff:127.0.0.1"; undefined for every interface
 * ("", "0.0.0.0", "::"). "localhost" binds a loopback address (which one is
 * the resolver's choice), so it holds both; another name stands for itself.
 */
function addressKeys(address: string | undefined): string[] | undefined {
  if (address === undefined || address === "") return undefined;
  const host = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  const ip = parseIP(host);
  if (ip !== undefined) return ip.bits === 0n ? undefined : [`${ip.v6 ? 6 : 4}/${ip.bits}`];
  const name = host.toLowerCase().replace(/\.$/, "");
  return name === "localhost" || name.endsWith(".localhost") ? [name, ...LOOPBACK_KEYS] : [name];
}

function sameClaim(a: Claim | undefined, b: Claim): boolean {
  return a !== undefined && a.kind === b.kind && a.port === b.port &&
    a.address?.join() === b.address?.join();
}

/** Whether two claims need the same socket: one port, and one address or either on all of them. */
function overlaps(a: Claim, b: Claim): boolean {
  if (a.port !== b.port) return false;
  return a.address === undefined || b.address === undefined ||
    a.address.some((key) => b.address!.includes(key));
}
