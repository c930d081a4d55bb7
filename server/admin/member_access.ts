/**
 * How a node calls the admin API of the other members of its cluster (an
 * MQTTProxy publish or session delete passed on): secured as it serves its
 * own, since the members of a cluster are set up alike.
 *
 * @module
 */

/** What a call to another member's admin API takes. */
export interface MemberAccess {
  /** `https` when this node serves its admin API over TLS. */
  readonly scheme: "http" | "https";
  /** Headers every call carries: basic auth as one of this node's users. */
  readonly headers: Readonly<Record<string, string>>;
  /** Trusts this node's CAs and presents its certificate; undefined over plain HTTP. */
  readonly client?: Deno.HttpClient;
  /** Releases the client. */
  close(): void;
}

/** Plain HTTP without credentials: an admin API that is not secured. */
export const PLAIN_MEMBER_ACCESS: MemberAccess = { scheme: "http", headers: {}, close() {} };

/**
 * The access of a node serving its admin API with `tls` (PEM) and
 * `basicAuth`: HTTPS trusting the certificates of its own chain and client
 * CA besides the system's, its certificate presented to members that ask
 * for one (so it must be fit for client authentication too), and the first
 * user's credentials.
 */
export function memberAccess(
  tls: { cert: string; key: string; clientCa?: string } | undefined,
  basicAuth: Readonly<Record<string, string>>,
): MemberAccess {
  const [user] = Object.entries(basicAuth);
  const headers: Record<string, string> = user
    ? { authorization: `Basic ${new TextEncoder().encode(`${user[0]}:${user[1]}`).toBase64()}` }
    : {};
  if (!tls) return { ...PLAIN_MEMBER_ACCESS, headers };
  const client = Deno.createHttpClient({
    caCerts: [tls.cert, ...(tls.clientCa ? [tls.clientCa] : [])],
    ...(tls.clientCa ? { cert: tls.cert, key: tls.key } : {}),
  });
  return { scheme: "https", headers, client, close: () => client.close() };
}
