/**
 * The MQTTProxy admin routes, as Easegress's: publish to an MQTTProxy's
 * subscribers, query and delete its sessions. A publish or delete that did
 * not come from another member is passed on to every other live member
 * (marked `distributed`), so subscribers anywhere in the cluster get it;
 * secured as this node's own admin API is (see member_access.ts).
 *
 * @module
 */

import type { Store } from "../../cluster/store.ts";
import { isPlainObject } from "../../filters/spec.ts";
import { hostOfAddr } from "../../filters/ip_address.ts";
import type { MqttAdminRequest } from "../mqtt/admin_ops.ts";
import { storedSessions } from "../mqtt/session_store.ts";
import { topicNameProblem } from "../mqtt/topic_filter.ts";
import { readStoredObject } from "../objects.ts";
import { type AdminRoute, ApiError, readDocument } from "./replies.ts";
import { type MemberAccess, PLAIN_MEMBER_ACCESS } from "./member_access.ts";
import { errorText } from "../error_text.ts";

/** What the routes need. */
export interface MqttRouteContext {
  store: Store;
  memberName: string;
  members(): Promise<Record<string, unknown>[]>;
  /** Carries out `request` on this node's MQTTProxy `name` (undefined: it runs none). */
  mqttAdmin(name: string, request: MqttAdminRequest): Promise<unknown>;
  /** How other members' admin APIs are called; plain HTTP by default. */
  memberAccess?: MemberAccess;
  /** Where a member the request could not be passed on to is reported. */
  log?: { warn(message: string): void };
}

/** The MQTTProxy routes, as the admin API's route table takes them. */
export const MQTT_ROUTES: AdminRoute<MqttRouteContext>[] = [
  { method: "POST", pattern: "/mqttproxy/{name}/topics/publish", handler: publish },
  { method: "GET", pattern: "/mqttproxy/{name}/session/query", handler: querySessions },
  { method: "DELETE", pattern: "/mqttproxy/{name}/sessions", handler: deleteSessions },
];

async function requireProxy(ctx: MqttRouteContext, name: string): Promise<void> {
  if ((await readStoredObject(ctx.store, name))?.kind !== "MQTTProxy") {
    throw new ApiError(404, `no MQTTProxy named ${name}`);
  }
}

/** Sends the same request, marked distributed, to every other live member. */
async function passOn(
  ctx: MqttRouteContext,
  method: string,
  path: string,
  body: Record<string, unknown>,
): Promise<void> {
  const others = (await ctx.members()).filter((m) =>
    m.name !== ctx.memberName && m.alive !== false && typeof m.apiAddr === "string" && m.apiAddr
  );
  const access = ctx.memberAccess ?? PLAIN_MEMBER_ACCESS;
  await Promise.all(others.map(async (m) => {
    const url = `${memberApiUrl(m, access.scheme)}/apis/v2${path}`;
    // Not a failure of this request (the subscribers it reaches still get it), so logged.
    let failure: string | undefined;
    try {
      const r = await fetch(url, {
        method,
        headers: { ...access.headers, "content-type": "application/json" },
        body: JSON.stringify({ ...body, distributed: true }),
        signal: AbortSignal.timeout(5_000),
        client: access.client,
      });
      await r.body?.cancel();
      if (!r.ok) failure = `it answered ${r.status}`;
    } catch (e) {
      failure = errorText(e);
    }
    if (failure !== undefined) {
      ctx.log?.warn(`${method} ${path} not passed on to member ${m.name} at ${url}: ${failure}`);
    }
  }));
}

/** Hosts an admin API listens on that name no host another member could connect to. */
const ANY_HOST = new Set(["", "0.0.0.0", "::"]);

/**
 * Where another member reaches `member`'s admin API (by `scheme`): its `apiAddr`, unless
 * that names no host (`:2381`, `0.0.0.0:2381`), which from here would be
 * this host or no URL at all; then, as Easegress does, the host of the
 * member's first advertised peer URL with the API's port.
 */
function memberApiUrl(member: Record<string, unknown>, scheme: "http" | "https"): string {
  const apiAddr = String(member.apiAddr);
  if (!ANY_HOST.has(hostOfAddr(apiAddr))) return `${scheme}://${apiAddr}`;
  const options = member.options as { cluster?: Record<string, unknown> } | undefined;
  const peerUrls = options?.cluster?.["initial-advertise-peer-urls"];
  let peerHost = "localhost";
  try {
    if (Array.isArray(peerUrls) && peerUrls.length > 0) peerHost = new URL(peerUrls[0]).hostname;
  } catch {
    // Not a URL (it was checked at its node's start): localhost stays.
  }
  return `${scheme}://${peerHost}${apiAddr.slice(apiAddr.lastIndexOf(":"))}`;
}

async function publish(req: Request, [name]: string[], ctx: MqttRouteContext) {
  await requireProxy(ctx, name);
  const body = await readDocument(req);
  if (!isPlainObject(body)) {
    throw new ApiError(400, "the body must be {topic, qos, payload, base64}");
  }
  const { topic, qos = 0, payload = "", base64 = false, distributed = false } = body;
  if (typeof topic !== "string") {
    throw new ApiError(400, `topic must be a topic name, got ${JSON.stringify(topic)}`);
  }
  const problem = topicNameProblem(topic);
  if (problem !== undefined) throw new ApiError(400, `topic ${JSON.stringify(topic)} ${problem}`);
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new ApiError(400, `qos must be 0, 1 or 2`);
  if (typeof payload !== "string") throw new ApiError(400, "payload must be a string");
  // As Go's JSON decoder refuses them for Easegress's bools (null leaves them false): "true" as
  // a string was taken as false, and a base64 payload delivered as its text.
  for (const [field, value] of [["base64", base64], ["distributed", distributed]] as const) {
    if (value !== null && typeof value !== "boolean") {
      throw new ApiError(400, `${field} must be true or false, got ${JSON.stringify(value)}`);
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = base64 === true ? Uint8Array.fromBase64(payload) : new TextEncoder().encode(payload);
  } catch {
    throw new ApiError(400, "payload is not base64");
  }
  if (distributed !== true) {
    await passOn(ctx, "POST", `/mqttproxy/${encodeURIComponent(name)}/topics/publish`, body);
  }
  // QoS 2 is delivered as QoS 1, the most this proxy gives subscribers.
  await ctx.mqttAdmin(name, {
    action: "publish",
    topic,
    qos: qos === 0 ? 0 : 1,
    payloadBase64: bytes.toBase64(),
  });
  return new Response(null, { status: 200 });
}

/** One subscription of one session, as the session query lists them. */
interface SessionTopic {
  sessionID: string;
  topic: string;
}

/**
 * Lists the subscriptions of the sessions live on this node and of the
 * persistent sessions in the store (whose clients may be away, or on
 * another node), by session and topic, a page of them when asked.
 */
async function querySessions(req: Request, [name]: string[], ctx: MqttRouteContext) {
  await requireProxy(ctx, name);
  const query = new URL(req.url).searchParams;
  const page = query.get("page");
  const pageSize = query.get("page_size");
  if ((page === null) !== (pageSize === null)) {
    throw new ApiError(400, "page and page_size go together");
  }
  const pageNumber = Number(page);
  const size = Number(pageSize);
  if (page !== null && !(Number.isInteger(pageNumber) && pageNumber >= 1)) {
    throw new ApiError(400, `page must be a positive integer, got ${JSON.stringify(page)}`);
  }
  if (pageSize !== null && !(Number.isInteger(size) && size >= 1)) {
    throw new ApiError(
      400,
      `page_size must be a positive integer, got ${JSON.stringify(pageSize)}`,
    );
  }
  const q = query.get("q") ?? "";
  const live = await ctx.mqttAdmin(name, { action: "sessions", q }) as
    | { sessions?: SessionTopic[] }
    | undefined;
  const found: SessionTopic[] = live?.sessions ?? [];
  const liveIDs = new Set(found.map((s) => s.sessionID));
  for (const [sessionID, topics] of await storedSessions(ctx.store, name)) {
    if (liveIDs.has(sessionID)) continue;
    for (const topic of Object.keys(topics)) {
      if (!q || topic.includes(q)) found.push({ sessionID, topic });
    }
  }
  found.sort((a, b) =>
    a.sessionID < b.sessionID ? -1 : a.sessionID > b.sessionID ? 1 : a.topic < b.topic ? -1 : 1
  );
  const sessions = page === null ? found : found.slice((pageNumber - 1) * size, pageNumber * size);
  // JSON whatever the Accept header, as Easegress answers: scripts pipe it to jq.
  return new Response(JSON.stringify({ sessions }), {
    headers: { "content-type": "application/json" },
  });
}

async function deleteSessions(req: Request, [name]: string[], ctx: MqttRouteContext) {
  await requireProxy(ctx, name);
  const body = await readDocument(req);
  const sessions = isPlainObject(body) ? body.sessions : undefined;
  if (!Array.isArray(sessions)) {
    throw new ApiError(400, "the body must be {sessions: [{sessionID}]}");
  }
  const ids = sessions.map((s) => isPlainObject(s) ? s.sessionID : undefined);
  if (ids.some((id) => typeof id !== "string")) {
    throw new ApiError(400, "every session needs a sessionID");
  }
  if ((body as Record<string, unknown>).distributed !== true) {
    await passOn(ctx, "DELETE", `/mqttproxy/${encodeURIComponent(name)}/sessions`, { sessions });
  }
  await ctx.mqttAdmin(name, { action: "deleteSessions", ids: ids as string[] });
  return new Response(null, { status: 200 });
}
