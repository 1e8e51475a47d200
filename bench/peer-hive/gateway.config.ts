// Hive Gateway settings for the peer benchmark. Without this file the gateway would load
// and execute mesh.config.ts as its config.
//
// PEER_RESPONSE_CACHE=1 turns on Hive Gateway's response cache (the documented
// `responseCaching` option) for the warm cases; any other value, or none, leaves every
// setting at its default for the cold cases. Entries are keyed by the Authorization
// header, so one GHL token never reads responses cached for another token, and live for
// PEER_RESPONSE_CACHE_TTL_MS milliseconds (default 60000, the gateway's own default time
// to live for task and note lists).
import { defineConfig } from '@graphql-hive/gateway';

const responseCacheEnabled = process.env.PEER_RESPONSE_CACHE === '1';
const ttlText = process.env.PEER_RESPONSE_CACHE_TTL_MS ?? '60000';
const ttl = Number(ttlText);
if (!Number.isInteger(ttl) || ttl <= 0) {
  throw new Error(
    `PEER_RESPONSE_CACHE_TTL_MS must be a positive whole number of milliseconds, got "${ttlText}"`,
  );
}

export const gatewayConfig = defineConfig(
  responseCacheEnabled
    ? {
        responseCaching: {
          session: (request: Request) => request.headers.get('authorization'),
          ttl,
        },
      }
    : {},
);
