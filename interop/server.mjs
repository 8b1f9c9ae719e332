// An independent OAuth 2.0 server for the interop test of spotify-session: `oidc-provider`
// configured with Spotify's route paths (`/authorize`, `/api/token`), in-memory storage,
// short token lifetimes, one confidential client and one public PKCE client.
//
// It listens on 127.0.0.1 only, prints `listening 127.0.0.1:PORT` on stdout when ready, and
// stops by itself after INTEROP_LIFETIME_SECONDS, on SIGINT/SIGTERM, and when its standard
// input closes (unless stdin is a terminal or INTEROP_IGNORE_STDIN=1).
//
// Environment (all optional):
//   PORT                         port to listen on; 0 (the default) picks a free one
//   INTEROP_REDIRECT_URIS        redirect URIs of both clients, separated by spaces or commas
//                                (default `http://127.0.0.1:8888/callback`)
//   INTEROP_CONFIDENTIAL_ID      confidential client id (default `interop-confidential`)
//   INTEROP_CONFIDENTIAL_SECRET  its secret (default `interop-secret`)
//   INTEROP_PUBLIC_ID            public PKCE client id (default `interop-public`)
//   INTEROP_ACCESS_TOKEN_TTL     access-token lifetime in seconds (default 60)
//   INTEROP_REFRESH_TOKEN_TTL    refresh-token lifetime in seconds (default 600)
//   INTEROP_CODE_TTL             authorization-code lifetime in seconds (default 60)
//   INTEROP_LIFETIME_SECONDS     how long the server runs before it stops (default 600)
//   INTEROP_IGNORE_STDIN         `1` keeps running when stdin closes

import crypto from 'node:crypto';
import http from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

const HOST = '127.0.0.1';

const SPOTIFY_SCOPES = [
  'ugc-image-upload', 'user-read-playback-state', 'user-modify-playback-state',
  'user-read-currently-playing', 'app-remote-control', 'streaming', 'playlist-read-private',
  'playlist-read-collaborative', 'playlist-modify-private', 'playlist-modify-public',
  'user-follow-modify', 'user-follow-read', 'user-read-playback-position', 'user-top-read',
  'user-read-recently-played', 'user-library-modify', 'user-library-read', 'user-read-email',
  'user-read-private', 'user-personalized', 'user-soa-link', 'user-soa-unlink',
  'soa-manage-entitlements', 'soa-manage-partner', 'soa-create-partner',
];

function text(name, fallback) {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

function wholeNumber(name, fallback) {
  const raw = text(name, String(fallback));
  const value = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(value)) {
    throw new Error(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function uriList(name, fallback) {
  const uris = text(name, fallback).split(/[\s,]+/).filter(Boolean);
  for (const uri of uris) {
    if (!URL.canParse(uri)) {
      throw new Error(`${name} holds ${JSON.stringify(uri)}, which is not an absolute URI`);
    }
  }
  return uris;
}

function settings() {
  return {
    port: wholeNumber('PORT', 0),
    redirectUris: uriList('INTEROP_REDIRECT_URIS', 'http://127.0.0.1:8888/callback'),
    confidentialId: text('INTEROP_CONFIDENTIAL_ID', 'interop-confidential'),
    confidentialSecret: text('INTEROP_CONFIDENTIAL_SECRET', 'interop-secret'),
    publicId: text('INTEROP_PUBLIC_ID', 'interop-public'),
    accessTokenTtl: wholeNumber('INTEROP_ACCESS_TOKEN_TTL', 60),
    refreshTokenTtl: wholeNumber('INTEROP_REFRESH_TOKEN_TTL', 600),
    codeTtl: wholeNumber('INTEROP_CODE_TTL', 60),
    lifetime: wholeNumber('INTEROP_LIFETIME_SECONDS', 600),
    ignoreStdin: text('INTEROP_IGNORE_STDIN', '0') === '1',
  };
}

// A fresh signing key per run, so no development key ships in the repository. Nothing
// here asks for an ID token unless a request carries the `openid` scope.
function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig' };
}

function clients(config) {
  return [
    {
      client_id: config.confidentialId,
      client_secret: config.confidentialSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: config.redirectUris,
    },
    {
      client_id: config.publicId,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: config.redirectUris,
    },
  ];
}

function providerConfiguration(config) {
  return {
    clients: clients(config),
    routes: { authorization: '/authorize', token: '/api/token' },
    scopes: ['openid', 'offline_access', ...SPOTIFY_SCOPES],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
    },
    // Spotify requires PKCE of public clients only.
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    // Spotify sends a refresh token with every code exchange, `offline_access` or not, and
    // its tokens outlive the browser session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    async findAccount(_ctx, sub) {
      return { accountId: sub, async claims() { return { sub }; } };
    },
    ttl: {
      AccessToken: config.accessTokenTtl,
      ClientCredentials: config.accessTokenTtl,
      AuthorizationCode: config.codeTtl,
      RefreshToken: config.refreshTokenTtl,
      IdToken: config.accessTokenTtl,
      Interaction: 600,
      Session: 600,
      Grant: config.refreshTokenTtl,
    },
  };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve(server.address().port));
  });
}

function stopWhenDone(server, config) {
  const stop = (why) => {
    process.stderr.write(`stopping: ${why}\n`);
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  setTimeout(() => stop(`ran for ${config.lifetime} s`), config.lifetime * 1000).unref();
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (!config.ignoreStdin && !process.stdin.isTTY) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin failed'));
    process.stdin.resume();
  }
}

async function main() {
  const config = settings();
  const server = http.createServer();
  const port = await listen(server, config.port);

  const provider = new Provider(`http://${HOST}:${port}`, providerConfiguration(config));
  provider.on('server_error', (_ctx, error) => process.stderr.write(`server_error: ${error}\n`));
  // The answers hide why a grant failed; stderr tells whoever debugs a test.
  provider.on('grant.error', (_ctx, error) => {
    process.stderr.write(`grant.error: ${error.error} (${error.error_detail ?? error.message})\n`);
  });
  server.on('request', provider.callback());

  stopWhenDone(server, config);
  process.stdout.write(`listening ${HOST}:${port}\n`);
}

main().catch((error) => {
  process.stderr.write(`interop server failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
