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
  /** Pass requests to the backend, or answer them itself. */
  answer: "proxy" | "static";
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
    location / { return 200 "${SMALL_BODY.replace("\n", "\\n")}"; }
  }
}
`;
}

/** nginx as the proxy under test: one worker, upstream keep-alive, or a static answer. */
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
  const location = mode.answer === "static"
    ? `
    location / { return 200 "${SMALL_BODY.replace("\n", "\\n")}"; }`
    : `
    location / {${proxied}
    }`;
  const server = listen + location;
  return `${options.userRoot ? "user root root;" : ""}
${nginxMain(dir, "nginx", options.workerConnections)}
http {
${nginxHttpCommon(dir, "nginx")}
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

/** HAProxy as the proxy under test: one thread, `http-reuse always`, or a static answer. */
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

backend backend
  server s1 127.0.0.1:${backendPort}
`;
}

/** An object for our node's admin API. */
export type NodeObject = Record<string, unknown>;

/** Options for {@linkcode nodeObjects}. */
export interface NodeObjectsOptions {
  port: number;
  backendPort: number;
  /**
   * "proxy": Proxy alone; "static": Mock; "both": Proxy alone on "/" and
   * Validator + RequestAdaptor + Proxy on {@linkcode VALIDATED_PATH}, so one
   * node serves both and their comparison does not depend on which process
   * ran which.
   */
  pipeline: "proxy" | "static" | "both";
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
  const filters = options.pipeline === "static"
    ? [{ name: "mock", kind: "Mock", rules: [{ code: 200, body: SMALL_BODY }] }]
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
