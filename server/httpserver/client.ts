/**
 * Who sent a request: the facts a listener knows about the connection,
 * computed on first use, because most requests never need the peer address
 * or the abort signal and each costs a call into the runtime.
 *
 * @module
 */

import type { AbortWatch } from "../../filters/abort_watch.ts";
import type { ClientInfo } from "../../filters/context.ts";
import type { PeerCertificate } from "../../filters/peer_certificate.ts";
import { isPublicIP } from "./ipfilter.ts";
import { joinHostPort } from "../../filters/ip_address.ts";
import { shapeAnchor } from "../../filters/shape_anchor.ts";

/** The newest client, kept through an idle heap trim (see filters/shape_anchor.ts). */
const CLIENT_SHAPE = shapeAnchor();

/** Where a {@linkcode PeerClient} reads connection facts from. */
export interface PeerSource {
  /** The TCP (or UDP, for HTTP/3) peer. */
  peer(): Deno.NetAddr;
  /** The peer as {@linkcode formatAddr} writes it, for a source that keeps it; optional. */
  remoteAddr?(): string;
  /** Aborted when the client goes away. */
  signal(): AbortSignal;
  /**
   * Aborted when the client goes away, cheaper than `signal()` and possibly
   * told later; a source may lack it. Asked once per request.
   */
  abortWatch?(): AbortWatch;
  /** The client's TLS certificates, leaf first; optional. */
  peerCertificates?(): readonly PeerCertificate[];
}

/** The client of one request, as filters and the access log see it. */
export class PeerClient implements ClientInfo {
  readonly #request: { readonly rawHeaders: Headers };
  readonly #source: PeerSource;
  #realIP: string | undefined;
  #remoteAddr: string | undefined;
  #abortWatch: AbortWatch | undefined;

  /**
   * `request` is the one this client sent; its headers, as they are when
   * the real IP is first asked for, give X-Forwarded-For and X-Real-Ip
   * (as Easegress reads them from the request's current headers).
   */
  constructor(request: { readonly rawHeaders: Headers }, source: PeerSource) {
    this.#request = request;
    this.#source = source;
    CLIENT_SHAPE.latest = this;
  }

  /** Aborted when the client goes away. */
  get signal(): AbortSignal {
    return this.#source.signal();
  }

  /** The client's TLS certificates, leaf first (empty without client certificates). */
  get peerCertificates(): readonly PeerCertificate[] {
    return this.#source.peerCertificates?.() ?? [];
  }

  /** Aborted when the client goes away: the source's light watch, else its signal. */
  get abortWatch(): AbortWatch {
    if (this.#abortWatch === undefined) {
      const source = this.#source;
      this.#abortWatch = source.abortWatch === undefined ? source.signal() : source.abortWatch();
    }
    return this.#abortWatch;
  }

  /** The peer address "ip:port" ("[ip]:port" for IPv6, as Go writes it). */
  get remoteAddr(): string {
    if (this.#remoteAddr === undefined) {
      const source = this.#source;
      this.#remoteAddr = source.remoteAddr === undefined
        ? formatAddr(source.peer())
        : source.remoteAddr();
    }
    return this.#remoteAddr;
  }

  /** The client's IP after X-Forwarded-For / X-Real-Ip. */
  get realIP(): string {
    return this.#realIP ??= realIPOf(
      this.#request.rawHeaders,
      unmapIPv4(this.#source.peer().hostname),
    );
  }
}

/** "ip:port", or "[ip]:port" for an IPv6 address (as Go's RemoteAddr). */
export function formatAddr(addr: Deno.NetAddr): string {
  return joinHostPort(unmapIPv4(addr.hostname), addr.port);
}

const MAPPED_IPV4 = /^::ffff:\d+\.\d+\.\d+\.\d+$/i;

/**
 * `ip` without its IPv4-mapped form: an IPv4 client of a listener on "::"
 * is 127.0.0.1, not ::ffff:127.0.0.1, in X-Forwarded-For, the access log
 * and ipHash, as Go reports it.
 */
export function unmapIPv4(ip: string): string {
  return ip.charCodeAt(0) === 58 && MAPPED_IPV4.test(ip) ? ip.slice(7) : ip;
}

/** The client's IP: first public X-Forwarded-For entry, else X-Real-Ip, else the peer. */
export function realIPOf(headers: Headers, peer: string): string {
  const xff = headers.get("x-forwarded-for");
  if (xff !== null) {
    for (const part of xff.split(",")) {
      const ip = part.trim();
      if (isPublicIP(ip)) return ip;
    }
  }
  const real = headers.get("x-real-ip");
  if (real !== null && real.trim()) return real.trim();
  return peer;
}
