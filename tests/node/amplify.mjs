/**
 * Amplify v6's Auth category (https://docs.amplify.aws/gen1/javascript/build-a-backend/auth/)
 * as an app uses it, pointed at Cognate with `userPoolEndpoint`. No polyfill is needed on
 * Node 20, except the `navigator` that the device scenarios give it (`asBrowser`). Tokens go
 * to a Map given to `cognitoUserPoolsTokenProvider.setKeyValueStorage` (Amplify's documented
 * storage hook; its default in Node is an in-memory store too), so a scenario can hand the
 * refresh token and the device to the test, which Amplify's API never shows.
 *
 * Every scenario takes `{endpoint, poolId, clientId, username, password}` and more of its own.
 */
import { Amplify } from 'aws-amplify';
import {
  confirmSignIn, confirmSignUp, fetchAuthSession, fetchDevices, forgetDevice, getCurrentUser, rememberDevice, signIn,
  signOut, signUp,
} from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';

import { ask, settle, sleep } from './protocol.mjs';
import { recordCalls } from './wire.mjs';

/** Amplify's KeyValueStorageInterface over a Map. */
class MapStorage {
  items = new Map();

  async setItem(key, value) { this.items.set(key, value); }

  async getItem(key) { return this.items.get(key) ?? null; }

  async removeItem(key) { this.items.delete(key); }

  async clear() { this.items.clear(); }

  /** The refresh token Amplify keeps (`CognitoIdentityServiceProvider.<client>.<user>.refreshToken`). */
  refreshToken() {
    return this.found('.refreshToken');
  }

  /** The device Amplify keeps (`.deviceKey`, `.deviceGroupKey`, `.randomPasswordKey`, which
   * signOut leaves); the random password is only said to be there. */
  device() {
    return { deviceKey: this.found('.deviceKey'), deviceGroupKey: this.found('.deviceGroupKey'),
             hasRandomPassword: Boolean(this.found('.randomPasswordKey')) };
  }

  found(suffix) {
    return [...this.items].find(([key]) => key.endsWith(suffix))?.[1] ?? null;
  }
}

/**
 * What a browser has and Node 20 lacks (Node 21 added it): Amplify names a new device by
 * `navigator.userAgent` when it confirms it (getDeviceName), and without a `navigator` it
 * skips ConfirmDevice without a word (getNewDeviceMetadata swallows the error).
 */
function asBrowser() {
  globalThis.navigator ??= { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) cognate-node-peer' };
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

  /** In a pool that remembers devices: `signIn` (SRP) gets NewDeviceMetadata and Amplify
   * confirms the device itself; the test is told the access token (it looks at the devices
   * and turns TOTP on); `rememberDevice`, `fetchDevices`, `signOut`, then a second `signIn`
   * from the same storage, which must need no TOTP code. */
  async remembered_device(input) {
    asBrowser();
    const storage = configure(input);
    const calls = recordCalls();
    const signedIn = await signInWith(input);
    const firstCalls = calls.splice(0);
    const device = storage.device();
    const first = await tokens();
    await ask({ signed_in: first.access });
    await rememberDevice();
    const devices = await fetchDevices();
    await signOut();
    calls.splice(0);
    const again = await signInWith(input);
    const secondCalls = calls.splice(0);
    return { signedIn, device, first, firstCalls, devices, again, secondCalls, second: await tokens() };
  },

  /** A sign-in from a process that has no device: TOTP is asked for (a wrong code first),
   * then answered with the code the test gives for `secret`. */
  async totp_sign_in(input) {
    asBrowser();
    const storage = configure(input);
    const calls = recordCalls();
    const challenged = await signInWith(input);
    const { code } = await ask({ totp: input.secret });
    const wrong = await settle(confirmSignIn({ challengeResponse: code === '000000' ? '111111' : '000000' }));
    const done = await confirmSignIn({ challengeResponse: code });
    return {
      challengeStep: challenged.nextStep.signInStep, wrongCode: wrong.error ?? null, done, tokens: await tokens(),
      calls, device: storage.device(),
    };
  },

  /** `forgetDevice` forgets the device Amplify confirmed at `signIn` and drops it from the
   * storage; after `signOut`, the next `signIn` is from a new device. */
  async forget_device(input) {
    asBrowser();
    const storage = configure(input);
    await signInWith(input);
    const device = storage.device();
    const before = await fetchDevices();
    await forgetDevice();
    const afterForget = storage.device();
    const after = await fetchDevices();
    await signOut();
    const calls = recordCalls();
    await signInWith(input);
    return { device, before, afterForget, after, calls, next: storage.device(), tokens: await tokens() };
  },

  /** Passwordless: `signIn` with `authFlowType: 'USER_AUTH'` and `preferredChallenge:
   * 'EMAIL_OTP'` (no password), then `confirmSignIn` with the mailed code (a wrong one
   * first); after `signOut`, `signIn` without a preference meets the choice of first
   * factors, and `confirmSignIn` chooses the password by name then sends it. */
  async user_auth_email_otp(input) {
    configure(input);
    const { username, password } = input;
    const calls = recordCalls();
    const sent = await signIn({ username, options: { authFlowType: 'USER_AUTH', preferredChallenge: 'EMAIL_OTP' } });
    const { code } = await ask({ mailed_code: input.email });
    const wrong = await settle(confirmSignIn({ challengeResponse: code === '000000' ? '111111' : '000000' }));
    const done = await confirmSignIn({ challengeResponse: code });
    const first = await tokens();
    await signOut();
    const choice = await signIn({ username, options: { authFlowType: 'USER_AUTH' } });
    const chosen = await confirmSignIn({ challengeResponse: 'PASSWORD' });
    const passworded = await confirmSignIn({ challengeResponse: password });
    return { sent: sent.nextStep, wrongCode: wrong.error ?? null, done, first, choice: choice.nextStep,
             chosen: chosen.nextStep, passworded, second: await tokens(), calls };
  },
};
