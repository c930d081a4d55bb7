/**
 * An ACME client (RFC 8555) for one account: orders a certificate for some
 * DNS names, proves control of each by the HTTP-01 challenge and downloads
 * the chain. Requests are JWS-signed with the account's ECDSA P-256 key
 * (ES256); a refused nonce is retried with a fresh one, as the RFC asks.
 *
 * @module
 */

import { certificateRequest } from "./csr.ts";

/** A problem document (RFC 7807) an ACME server answered with. */
export class AcmeError extends Error {
  constructor(readonly type: string, message: string) {
    super(message);
    this.name = "AcmeError";
  }
}

/** Where a challenge's answer is published, and withdrawn once judged. */
export interface ChallengePublisher {
  /** Makes `keyAuthorization` the answer at `/.well-known/acme-challenge/<token>`. */
  publish(token: string, keyAuthorization: string): Promise<void>;
  withdraw(token: string): Promise<void>;
}

/** A certificate chain and its private key, both PEM. */
export interface IssuedCertificate {
  cert: string;
  key: string;
}

/** What a client needs. */
export interface AcmeClientOptions {
  directoryURL: string;
  /** The account's key pair (ECDSA P-256, extractable public key). */
  accountKey: CryptoKeyPair;
  /** Contact address for the account, without `mailto:`. */
  email: string;
  /** How long to wait for a challenge or order to be judged. @default {90000} */
  pollTimeoutMs?: number;
  /** The fetch to use (tests may give their own). */
  fetch?: typeof fetch;
}

interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
}

interface Order {
  status: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: { type?: string; detail?: string };
}

interface Challenge {
  type: string;
  url: string;
  token: string;
  status: string;
  error?: { type?: string; detail?: string };
}

interface Authorization {
  status: string;
  identifier: { value: string };
  challenges: Challenge[];
}

const text = new TextEncoder();

/** base64url without padding (RFC 7515 section 2). */
export function base64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? text.encode(data) : data;
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The RFC 7638 thumbprint of an EC public JWK, base64url. */
export async function jwkThumbprint(jwk: JsonWebKey): Promise<string> {
  // Members in lexicographic order, no spaces: the RFC's canonical form.
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", text.encode(canonical))));
}

/** One ACME account on one server. */
export class AcmeClient {
  readonly #o: AcmeClientOptions;
  readonly #fetch: typeof fetch;
  #directory: Directory | undefined;
  #nonce: string | undefined;
  #jwk: JsonWebKey | undefined;
  #kid: string | undefined;

  constructor(options: AcmeClientOptions) {
    this.#o = options;
    this.#fetch = options.fetch ?? fetch;
  }

  /**
   * Orders a certificate for `names`, answering their HTTP-01 challenges
   * through `publisher`; resolves with the chain and its new key.
   */
  async obtain(
    names: readonly string[],
    publisher: ChallengePublisher,
  ): Promise<IssuedCertificate> {
    await this.#account();
    const ordered = await this.#post(this.#directory!.newOrder, {
      identifiers: names.map((value) => ({ type: "dns", value })),
    });
    const orderUrl = ordered.response.headers.get("location");
    if (!orderUrl) throw new Error("the ACME server's new order has no Location");
    let order = ordered.body as Order;
    for (const url of order.authorizations) await this.#authorize(url, publisher);

    const certKeys = await crypto.subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" },
      true,
      ["sign", "verify"],
    ) as CryptoKeyPair;
    const csr = await certificateRequest(names, certKeys);
    order = await this.#waitFor(orderUrl, ["pending"], "order", order);
    if (order.status !== "ready") throw problem(order.error, `order is ${order.status}`);
    order = (await this.#post(order.finalize, { csr: base64url(csr) })).body as Order;
    order = await this.#waitFor(orderUrl, ["processing", "ready", "pending"], "order", order);
    if (order.status !== "valid" || !order.certificate) {
      throw problem(order.error, `order is ${order.status} after finalizing`);
    }
    const chain = await this.#post(order.certificate, undefined, "text");
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", certKeys.privateKey));
    return { cert: chain.body as string, key: pem("PRIVATE KEY", pkcs8) };
  }

  async #account(): Promise<void> {
    if (this.#kid) return;
    const response = await this.#fetch(this.#o.directoryURL);
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`ACME directory ${this.#o.directoryURL} answered ${response.status}`);
    }
    this.#directory = await response.json() as Directory;
    for (const field of ["newNonce", "newAccount", "newOrder"] as const) {
      if (typeof this.#directory[field] !== "string") {
        throw new Error(`ACME directory ${this.#o.directoryURL} has no ${field}`);
      }
    }
    const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", this.#o.accountKey.publicKey);
    this.#jwk = { kty, crv, x, y };
    const created = await this.#post(this.#directory.newAccount, {
      termsOfServiceAgreed: true,
      contact: [`mailto:${this.#o.email}`],
    });
    const kid = created.response.headers.get("location");
    if (!kid) throw new Error("the ACME server's new account has no Location");
    this.#kid = kid;
  }

  async #authorize(url: string, publisher: ChallengePublisher): Promise<void> {
    const authz = (await this.#post(url, undefined)).body as Authorization;
    if (authz.status === "valid") return;
    const challenge = authz.challenges.find((c) => c.type === "http-01");
    if (!challenge) {
      throw new Error(
        `the ACME server offers no http-01 challenge for ${authz.identifier.value} ` +
          `(offered: ${authz.challenges.map((c) => c.type).join(", ")})`,
      );
    }
    const keyAuthorization = `${challenge.token}.${await jwkThumbprint(this.#jwk!)}`;
    await publisher.publish(challenge.token, keyAuthorization);
    try {
      await this.#post(challenge.url, {});
      const judged = await this.#waitFor<Authorization>(
        url,
        ["pending", "processing"],
        "authorization",
      );
      if (judged.status !== "valid") {
        const failed = judged.challenges.find((c) => c.type === "http-01");
        throw problem(
          failed?.error,
          `${authz.identifier.value}: authorization is ${judged.status}`,
        );
      }
    } finally {
      await publisher.withdraw(challenge.token);
    }
  }

  /** Polls `url` (POST-as-GET) while its status is one of `waiting`. */
  async #waitFor<T extends { status: string }>(
    url: string,
    waiting: readonly string[],
    what: string,
    first?: T,
  ): Promise<T> {
    const deadline = Date.now() + (this.#o.pollTimeoutMs ?? 90_000);
    let current = first ?? (await this.#post(url, undefined)).body as T;
    let pause = 250;
    while (waiting.includes(current.status)) {
      if (Date.now() > deadline) throw new Error(`${what} ${url} still ${current.status}`);
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 2_000);
      current = (await this.#post(url, undefined)).body as T;
    }
    return current;
  }

  async #freshNonce(): Promise<string> {
    const response = await this.#fetch(this.#directory!.newNonce, { method: "HEAD" });
    await response.body?.cancel();
    const nonce = response.headers.get("replay-nonce");
    if (!nonce) throw new Error("the ACME server gave no Replay-Nonce");
    return nonce;
  }

  /** A signed POST; `payload` undefined is a POST-as-GET. */
  async #post(
    url: string,
    payload: unknown,
    as: "json" | "text" = "json",
  ): Promise<{ response: Response; body: unknown }> {
    for (let attempt = 0;; attempt++) {
      const nonce = this.#nonce ?? await this.#freshNonce();
      this.#nonce = undefined;
      const header: Record<string, unknown> = { alg: "ES256", nonce, url };
      if (this.#kid) header.kid = this.#kid;
      else header.jwk = this.#jwk;
      const protectedHeader = base64url(JSON.stringify(header));
      const encodedPayload = payload === undefined ? "" : base64url(JSON.stringify(payload));
      const signature = await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        this.#o.accountKey.privateKey,
        text.encode(`${protectedHeader}.${encodedPayload}`),
      );
      const response = await this.#fetch(url, {
        method: "POST",
        headers: { "content-type": "application/jose+json" },
        body: JSON.stringify({
          protected: protectedHeader,
          payload: encodedPayload,
          signature: base64url(new Uint8Array(signature)),
        }),
      });
      this.#nonce = response.headers.get("replay-nonce") ?? undefined;
      if (response.ok) {
        return { response, body: as === "json" ? await response.json() : await response.text() };
      }
      const body = await response.text();
      let doc: { type?: string; detail?: string } = {};
      try {
        doc = JSON.parse(body);
      } catch { /* not a problem document */ }
      if (doc.type === "urn:ietf:params:acme:error:badNonce" && attempt < 3) continue;
      throw problem(doc, `${url} answered ${response.status}${doc.detail ? "" : `: ${body}`}`);
    }
  }
}

function problem(doc: { type?: string; detail?: string } | undefined, fallback: string): Error {
  if (!doc?.detail) return new AcmeError(doc?.type ?? "", fallback);
  return new AcmeError(doc.type ?? "", `${doc.detail}${doc.type ? ` (${doc.type})` : ""}`);
}

/** DER bytes as PEM text with the given label. */
export function pem(label: string, der: Uint8Array): string {
  const lines = der.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
