// panva's oidc-provider on loopback, configured as close to Cognate as it goes: the peer
// that bench/grants.py measures Cognate's token endpoint against.
//
//   node server.js CONFIG.json      (CONFIG written by bench/grants.py)
//
// CONFIG: {"port", "callback", "resource", "rotate", "clients": {"web": {id, secret},
// "m2m": {id, secret}}, "ttl": {"access", "id", "refresh"}}. One fresh RSA-2048 key (RS256),
// the built-in in-memory adapter, client_secret_basic, JWT access tokens for the resource
// server (so each token response signs what Cognate's does), devInteractions for the one
// login per client thread that obtains a refresh token.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { web, m2m } = config.clients;
const RESOURCE_SCOPE = 'bench-api/read';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(`http://127.0.0.1:${config.port}`, {
  clients: [
    {
      client_id: web.id,
      client_secret: web.secret,
      redirect_uris: [config.callback],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: `openid offline_access email profile ${RESOURCE_SCOPE}`,
    },
    {
      client_id: m2m.id,
      client_secret: m2m.secret,
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: RESOURCE_SCOPE,
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', RESOURCE_SCOPE],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username'] },
  // Cognito puts the scopes' claims in the ID token after a refresh too.
  conformIdTokenClaims: false,
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: 'bench@example.com', email_verified: true, preferred_username: 'bench-user' };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: RESOURCE_SCOPE,
        audience: config.resource,
        accessTokenTTL: config.ttl.access,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  // Cognate's clients rotate only when asked (Cognito's default); `true` as with --rotate.
  rotateRefreshToken: config.rotate,
  ttl: {
    AccessToken: config.ttl.access,
    ClientCredentials: config.ttl.access,
    IdToken: config.ttl.id,
    RefreshToken: config.ttl.refresh,
    Grant: config.ttl.refresh,
    AuthorizationCode: 300,
    Interaction: 3600,
    Session: 3600,
  },
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(config.port, '127.0.0.1', () => console.log(`oidc-provider listening on ${config.port}`));
