/**
 * Configuration text for the programs a benchmark starts: the static nginx
 * backend, nginx and HAProxy as reverse proxies, and the objects our node is
 * given through its admin API. Everything listens on 127.0.0.1 only and
 * keeps its files under the run's temporary directory.
 *
 * @module
 */

/** The small body the backend answers on every path but `/16k`. */
export const SMALL_BODY = "hello world\n";
/** Size of the large body, served from a file at `/16k`. */
export const LARGE_BODY_SIZE = 16 * 1024;
/** Path of the large body. */
export const LARGE_PATH = "/16k";
/** Path whose answer says it may be cached (HAProxy's cache keeps nothing that does not). */
export const CACHED_PATH = "/cached";
/** Header sent to the Validator in the pipeline-cost scenario. */
export const VALIDATOR_HEADER = { name: "X-Bench", value: "yes" };
/** Path the pipeline-cost scenario's node routes to Validator + RequestAdaptor + Proxy. */
export const VALIDATED_PATH = "/validated";

/** A TLS certificate and key, as PEM files on disk. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Certificate then key in one file, the way HAProxy wants it. */
  combinedFile: string;
}

/** What a reverse proxy under test does on its port. */
export interface ProxyMode {
  /** Pass requests to the backend, answer them itself, or pass them on once and answer from a cache. */
  answer: "proxy" | "static" | "cached";
  /** Serve HTTPS with these files (HTTP/2 by ALPN); plain HTTP without. */
  tls?: TlsFiles;
}

/** Directives that keep an nginx instance inside `dir` and in the foreground. */
function nginxMain(dir: string, name: string, workerConnections: number): string {
  return `
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile ${workerConnections * 2 + 64};
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
events { worker_connections ${workerConnections}; }
`;
}

/** The temp paths nginx would otherwise want under its install prefix. */
function nginxHttpCommon(dir: string, name: string): string {
  return `
  default_type text/plain;
  access_log off;
  server_tokens off;
  # nginx closes a client connection after 1000 requests by default; the others do not.
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path ${dir}/${name}-client_body;
  proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-fastcgi;
  uwsgi_temp_path ${dir}/${name}-uwsgi;
  scgi_temp_path ${dir}/${name}-scgi;
`;
}

/** The static backend: the small body everywhere, 16 KB from a file at `/16k`. */
export function backendNginxConf(
  options: { dir: string; port: number; userRoot: boolean },
): string {
  const { dir, port } = options;
  return `${options.userRoot ? "user root root;" : ""}
${nginxMain(dir, "backend", 4096)}
http {
${nginxHttpCommon(dir, "backend")}
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location = ${LARGE_PATH} { alias ${dir}/16k.txt; }
    location = ${CACHED_PATH} {
      add_header Cache-Control "public, max-age=3600";
      return 200 "${SMALL_BODY.replace("\n", "\\n")}";
    }
    location / { return 200 "${SMALL_BODY.replace("\n", "\\n")}"; }
  }
}
`;
}

/** How long a cached answer stays fresh in the "cached" mode: longer than a whole run. */
const CACHE_SECONDS = 3600;

/** nginx as the proxy under test: one worker, upstream keep-alive, a static answer, or proxy_cache. */
export function proxyNginxConf(options: {
  dir: string;
  port: number;
  backendPort: number;
  mode: ProxyMode;
  workerConnections: number;
  userRoot: boolean;
}): string {
  const { dir, port, backendPort, mode } = options;
  const proxied = `
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";`;
  const listen = mode.tls
    ? `
    listen 127.0.0.1:${port} ssl http2 backlog=4096;
    ssl_certificate ${mode.tls.certFile};
    ssl_certificate_key ${mode.tls.keyFile};`
    : `
    listen 127.0.0.1:${port} backlog=4096;`;
  const cached = mode.answer === "cached"
    ? `
      proxy_cache bench;
      proxy_cache_valid 200 ${CACHE_SECONDS}s;`
    : "";
  const location = mode.answer === "static"
    ? `
    location / { return 200 "${SMALL_BODY.replace("\n", "\\n")}"; }`
    : `
    location / {${proxied}${cached}
    }`;
  const server = listen + location;
  return `${options.userRoot ? "user root root;" : ""}
${nginxMain(dir, "nginx", options.workerConnections)}
http {
${nginxHttpCommon(dir, "nginx")}${
    mode.answer === "cached"
      ? `
  proxy_cache_path ${dir}/nginx-cache keys_zone=bench:10m max_size=64m;`
      : ""
  }
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {${server}
  }
}
`;
}

/** HAProxy as the proxy under test: one thread, `http-reuse always`, a static answer, or its cache. */
export function haproxyConf(options: {
  port: number;
  backendPort: number;
  mode: ProxyMode;
  maxConnections: number;
}): string {
  const { port, backendPort, mode } = options;
  const bind = mode.tls
    ? `bind 127.0.0.1:${port} ssl crt ${mode.tls.combinedFile} alpn h2,http/1.1`
    : `bind 127.0.0.1:${port}`;
  const action = mode.answer === "static"
    ? `http-request return status 200 content-type text/plain string "${
      SMALL_BODY.replace("\n", "\\n")
    }"`
    : "default_backend backend";
  return `global
  nbthread 1
  maxconn ${options.maxConnections}
  # HAProxy wants two descriptors per connection; where the hard limit is lower
  # (a container), idle client connections still fit: warn instead of failing.
  no strict-limits
  tune.ssl.default-dh-param 2048

defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  http-reuse always

frontend bench
  ${bind}
  ${action}

backend backend${
    mode.answer === "cached"
      ? `
  http-request cache-use bench
  http-response cache-store bench`
      : ""
  }
  server s1 127.0.0.1:${backendPort}
${
    mode.answer === "cached"
      ? `
cache bench
  total-max-size 64
  max-age ${CACHE_SECONDS}
`
      : ""
  }`;
}

/** An object for our node's admin API. */
export type NodeObject = Record<string, unknown>;

/** Options for {@linkcode nodeObjects}. */
export interface NodeObjectsOptions {
  port: number;
  backendPort: number;
  /**
   * "proxy": Proxy alone; "static": Mock; "cached": Proxy with a
   * memoryCache; "both": Proxy alone on "/" and
   * Validator + RequestAdaptor + Proxy on {@linkcode VALIDATED_PATH}, so one
   * node serves both and their comparison does not depend on which process
   * ran which.
   */
  pipeline: "proxy" | "static" | "cached" | "both";
  /** Base64 PEM certificate and key: serve HTTPS (HTTP/2 by ALPN). */
  tls?: { certBase64: string; keyBase64: string };
  maxConnections?: number;
}

/** The HTTPServer and Pipeline our node runs for a scenario, in creation order. */
export function nodeObjects(options: NodeObjectsOptions): NodeObject[] {
  const proxy = {
    name: "proxy",
    kind: "Proxy",
    pools: [{ servers: [{ url: `http://127.0.0.1:${options.backendPort}` }] }],
  };
  const cache = {
    expiration: `${CACHE_SECONDS}s`,
    maxEntryBytes: 64 * 1024,
    codes: [200],
    methods: ["GET", "HEAD"],
  };
  const filters = options.pipeline === "static"
    ? [{ name: "mock", kind: "Mock", rules: [{ code: 200, body: SMALL_BODY }] }]
    : options.pipeline === "cached"
    ? [{ ...proxy, pools: [{ ...proxy.pools[0], memoryCache: cache }] }]
    : [proxy];
  const pipelines: NodeObject[] = [{ kind: "Pipeline", name: "pipeline", filters }];
  const paths = [{ pathPrefix: "/", backend: "pipeline" }];
  if (options.pipeline === "both") {
    pipelines.push({
      kind: "Pipeline",
      name: "validated",
      filters: [
        {
          name: "validator",
          kind: "Validator",
          headers: { [VALIDATOR_HEADER.name]: { values: [VALIDATOR_HEADER.value] } },
        },
        { name: "adaptor", kind: "RequestAdaptor", header: { set: { "X-A": "1" } } },
        proxy,
      ],
    });
    paths.unshift({ pathPrefix: VALIDATED_PATH, backend: "validated" });
  }
  const server: NodeObject = {
    kind: "HTTPServer",
    name: "bench",
    port: options.port,
    address: "127.0.0.1",
    rules: [{ paths }],
  };
  if (options.maxConnections) server.maxConnections = options.maxConnections;
  if (options.tls) Object.assign(server, { https: true, ...options.tls });
  return [...pipelines, server];
}
