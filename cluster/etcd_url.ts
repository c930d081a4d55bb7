/**
 * etcd endpoints as the etcd client takes them.
 *
 * @module
 */

/**
 * `endpoint` as the URL the etcd client takes: `host:port` is reached over
 * http, and a URL is its scheme and host. Go's etcd client reads no more of
 * it; a path, even a trailing "/", failed every call of this one ("Failed to
 * parse DNS address").
 */
export function etcdEndpointURL(endpoint: string): string {
  const url = new URL(endpoint.includes("://") ? endpoint : `http://${endpoint}`);
  return `${url.protocol}//${url.host}`;
}
