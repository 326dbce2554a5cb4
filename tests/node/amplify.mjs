/**
 * Amplify v6's Auth category (https://docs.amplify.aws/gen1/javascript/build-a-backend/auth/)
 * as an app uses it, pointed at Cognate with `userPoolEndpoint`. No polyfill is needed on
 * Node 20. Tokens go to a Map given to `cognitoUserPoolsTokenProvider.setKeyValueStorage`
 * (Amplify's documented storage hook; its default in Node is an in-memory store too), so a
 * scenario can hand the refresh token to the test, which Amplify's API never shows.
 *
 * Every scenario takes `{endpoint, poolId, clientId, username, password}` and more of its own.
 */
import { Amplify } from 'aws-amplify';
import {
  confirmSignIn, confirmSignUp, fetchAuthSession, getCurrentUser, signIn, signOut, signUp,
} from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';

import { ask, settle, sleep } from './protocol.mjs';

/** Amplify's KeyValueStorageInterface over a Map. */
class MapStorage {
  items = new Map();

  async setItem(key, value) { this.items.set(key, value); }

  async getItem(key) { return this.items.get(key) ?? null; }

  async removeItem(key) { this.items.delete(key); }

  async clear() { this.items.clear(); }

  /** The refresh token Amplify keeps (`CognitoIdentityServiceProvider.<client>.<user>.refreshToken`). */
  refreshToken() {
    return [...this.items].find(([key]) => key.endsWith('.refreshToken'))?.[1] ?? null;
  }
}

function configure({ endpoint, poolId, clientId }) {
  Amplify.configure({ Auth: { Cognito: { userPoolId: poolId, userPoolClientId: clientId, userPoolEndpoint: endpoint } } });
  const storage = new MapStorage();
  cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);
  return storage;
}

async function tokens(options) {
  const { tokens: found } = await fetchAuthSession(options);
  return found ? { access: found.accessToken.toString(), id: found.idToken?.toString() ?? null } : null;
}

function signInWith({ username, password, flow }) {
  return signIn({ username, password, options: flow ? { authFlowType: flow } : undefined });
}

export const scenarios = {
  /** `signUp`, then `confirmSignUp` with the code the test read from the mail (a wrong code
   * first: it must be refused). Input: `email`. */
  async sign_up(input) {
    configure(input);
    const { username, password, email } = input;
    const signedUp = await signUp({ username, password, options: { userAttributes: { email } } });
    const { code } = await ask({ mailed_code: email });
    const wrong = await settle(confirmSignUp({ username, confirmationCode: code === '000000' ? '111111' : '000000' }));
    const confirmed = await confirmSignUp({ username, confirmationCode: code });
    return { signedUp, wrongCode: wrong.error ?? null, confirmed };
  },

  /** `signIn` with `flow` (Amplify's default, USER_SRP_AUTH, when absent), `getCurrentUser`,
   * `fetchAuthSession`, after `pauseMs` `fetchAuthSession({forceRefresh: true})`, then
   * `signOut({global})` and what Amplify knows afterwards. */
  async session(input) {
    const storage = configure(input);
    const signedIn = await signInWith(input);
    const currentUser = await getCurrentUser();
    const first = await tokens();
    const firstRefreshToken = storage.refreshToken();
    await sleep(input.pauseMs ?? 0);
    const refreshed = await tokens({ forceRefresh: true });
    const refreshToken = storage.refreshToken();
    await signOut({ global: Boolean(input.global) });
    const afterSignOut = await settle(getCurrentUser());
    return {
      signedIn, currentUser, first, refreshed,
      refreshTokens: { first: firstRefreshToken, latest: refreshToken },
      afterSignOut: { currentUser: afterSignOut.error ?? afterSignOut.ok, tokens: await tokens(), stored: storage.items.size },
    };
  },

  /** In a pool whose MFA is ON: `signIn` meets TOTP setup (Amplify associates the token
   * itself), `confirmSignIn` with a code for the shared secret; after `signOut`, the next
   * `signIn` asks for a TOTP code. The test computes each code from the secret. */
  async totp_setup_then_sign_in(input) {
    configure(input);
    const setup = await signInWith(input);
    const secret = setup.nextStep.totpSetupDetails?.sharedSecret;
    const enrolled = await confirmSignIn({ challengeResponse: (await ask({ totp: secret })).code });
    const enrolledTokens = await tokens();
    await signOut();
    const challenged = await signInWith(input);
    const { code } = await ask({ totp: secret });
    const wrong = await settle(confirmSignIn({ challengeResponse: code === '000000' ? '111111' : '000000' }));
    const done = await confirmSignIn({ challengeResponse: code });
    return {
      setupStep: setup.nextStep.signInStep, secret, enrolled, enrolledTokens,
      challengeStep: challenged.nextStep.signInStep, wrongCode: wrong.error ?? null, done, tokens: await tokens(),
    };
  },
};
