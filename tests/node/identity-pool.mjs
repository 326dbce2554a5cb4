/**
 * Amplify v6's identity-pool credentials (`fetchAuthSession`,
 * https://docs.amplify.aws/gen1/javascript/build-a-backend/auth/manage-session/) as an app
 * uses them, pointed at Cognate with `identityPoolEndpoint` and `userPoolEndpoint` (Amplify
 * reads the endpoint only from `Amplify.configure`, not from amplify_outputs.json).
 *
 * Every scenario takes `{endpoint, identityPoolId, poolId, clientId}`, and `username` and
 * `password` when it signs in. The calls Amplify makes to `cognito-identity` are recorded at
 * `fetch`, with the identity id each one names and answers.
 */
import { Amplify } from 'aws-amplify';
import { fetchAuthSession, signIn, signOut } from 'aws-amplify/auth';

import { settle } from './protocol.mjs';
import { recordTargets } from './wire.mjs';

/** Record each cognito-identity call from now on: `{op, identityId, logins, got}`. */
function recordIdentityCalls() {
  return recordTargets('AWSCognitoIdentityService.', (op, body, status, answer) => ({
    op, identityId: body.IdentityId ?? null, logins: Object.keys(body.Logins ?? {}),
    got: status >= 400 ? String(answer.__type ?? status) : (answer.IdentityId ?? 'ok'),
  }));
}

function configure({ endpoint, identityPoolId, poolId, clientId, allowGuestAccess = true }) {
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: poolId, userPoolClientId: clientId, userPoolEndpoint: endpoint,
        identityPoolId, identityPoolEndpoint: endpoint, allowGuestAccess,
      },
    },
  });
}

/** What `fetchAuthSession` gave: the identity id, the credentials (the expiration as epoch
 * seconds), whether it holds user-pool tokens. */
async function session(options) {
  const found = await fetchAuthSession(options);
  const credentials = found.credentials ? {
    AccessKeyId: found.credentials.accessKeyId, SecretKey: found.credentials.secretAccessKey,
    SessionToken: found.credentials.sessionToken,
    Expiration: found.credentials.expiration ? found.credentials.expiration.getTime() / 1000 : null,
  } : null;
  return { identityId: found.identityId ?? null, credentials, signedIn: Boolean(found.tokens) };
}

export const scenarios = {
  /** A guest: `fetchAuthSession` twice (the second from Amplify's cache), then once with
   * `forceRefresh`, which asks for new credentials for the same identity. */
  async guest(input) {
    configure(input);
    const calls = recordIdentityCalls();
    const first = await session();
    const cached = await session();
    const refreshed = await session({ forceRefresh: true });
    return { first, cached, refreshed, calls };
  },

  /** A guest session first (Amplify keeps the guest identity id), then `signIn` (Amplify's
   * default SRP flow) and `fetchAuthSession`: the authenticated credentials; then `signOut`
   * and a guest session again. */
  async guest_then_sign_in(input) {
    configure(input);
    const calls = recordIdentityCalls();
    const guest = await session();
    const guestCalls = calls.splice(0);
    await signIn({ username: input.username, password: input.password });
    const user = await session();
    const userCalls = calls.splice(0);
    await signOut();
    const after = await settle(session());
    return { guest, guestCalls, user, userCalls, afterSignOut: after.ok ?? after, afterCalls: calls };
  },

  /** `allowGuestAccess: false`: no credentials before sign-in, then the user's. */
  async sign_in_only(input) {
    configure({ ...input, allowGuestAccess: false });
    const calls = recordIdentityCalls();
    const before = await session();
    await signIn({ username: input.username, password: input.password });
    const user = await session();
    return { before, user, calls };
  },
};
