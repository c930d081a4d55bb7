/**
 * The built-in filter kinds, listed explicitly (never by import order).
 *
 * @module
 */

import { certExtractorKind } from "./cert_extractor.ts";
import { connectControlKind } from "./connect_control.ts";
import { corsAdaptorKind } from "./cors_adaptor.ts";
import { dataBuilderKind } from "./data_builder.ts";
import { fallbackKind } from "./fallback.ts";
import { type FilterKind, FilterRegistry } from "./filter.ts";
import { headerLookupKind } from "./header_lookup.ts";
import { headerToJSONKind } from "./header_to_json.ts";
import { kafkaKind, kafkaMqttKind } from "./kafka/kafka.ts";
import { mockKind } from "./mock.ts";
import { mqttClientAuthKind } from "./mqtt_client_auth.ts";
import { proxyKind } from "./proxy/proxy.ts";
import { rateLimiterKind } from "./rate_limiter.ts";
import { remoteFilterKind } from "./remote_filter.ts";
import { requestAdaptorKind } from "./request_adaptor.ts";
import { requestBuilderKind } from "./request_builder.ts";
import { responseAdaptorKind } from "./response_adaptor.ts";
import { responseBuilderKind } from "./response_builder.ts";
import { resultBuilderKind } from "./result_builder.ts";
import { topicMapperKind } from "./topic_mapper.ts";
import { validatorKind } from "./validator.ts";
import { wasmHostKind } from "./wasm_host.ts";
import { webSocketProxyKind } from "./websocket_proxy.ts";

/** Every built-in filter kind. */
export const BUILTIN_FILTER_KINDS: readonly FilterKind<never>[] = [
  certExtractorKind,
  connectControlKind,
  corsAdaptorKind,
  dataBuilderKind,
  fallbackKind,
  headerLookupKind,
  headerToJSONKind,
  kafkaKind,
  kafkaMqttKind,
  mockKind,
  mqttClientAuthKind,
  proxyKind,
  rateLimiterKind,
  remoteFilterKind,
  requestAdaptorKind,
  requestBuilderKind,
  responseAdaptorKind,
  responseBuilderKind,
  resultBuilderKind,
  topicMapperKind,
  validatorKind,
  wasmHostKind,
  webSocketProxyKind,
] as FilterKind<never>[];

/** A registry holding the built-in kinds. */
export function builtinFilters(): FilterRegistry {
  return new FilterRegistry(BUILTIN_FILTER_KINDS);
}
