/**
 * amazon-cognito-identity-js (https://github.com/aws-amplify/amplify-js/tree/v5-stable/packages/amazon-cognito-identity-js)
 * as an app uses it, pointed at Cognate with the pool's `endpoint` option. Nothing is shimmed:
 * Node 20 has `fetch` and `crypto`, and the library keeps its tokens (and its device) in its
 * own memory storage when there is no `window.localStorage`, or in the `Storage` a scenario
 * gives it to show what it cached.
 *
 * Every scenario takes `{endpoint, poolId, clientId, username, password}` and more of its own.
 */
import {
  AuthenticationDetails, CognitoUser, CognitoUserAttribute, CognitoUserPool,
} from 'amazon-cognito-identity-js';

import { ask, errorOf, settle, sleep } from './protocol.mjs';
import { recordCalls } from './wire.mjs';

function poolOf({ endpoint, poolId, clientId }) {
  return new CognitoUserPool({ UserPoolId: poolId, ClientId: clientId, endpoint });
}

/** `storage`: where the user's tokens and device are cached (the library's memory storage,
 * shared by the whole process, when absent). */
function userOf(input, pool = poolOf(input), storage = undefined) {
  const user = new CognitoUser({ Username: input.username, Pool: pool, Storage: storage });
  if (input.flow) user.setAuthenticationFlowType(input.flow);
  return user;
}

function tokensOf(session) {
  return {
    access: session.getAccessToken().getJwtToken(),
    id: session.getIdToken().getJwtToken(),
    refresh: session.getRefreshToken().getToken(),
  };
}

/** A Node-style callback call as a promise. */
function called(fn) {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

/**
 * `authenticateUser` as a promise of the session. `challenges` answers the challenge
 * callbacks a scenario expects (each gets `resolve`, `reject` and the callback's arguments);
 * any other challenge fails the scenario.
 */
function authenticate(user, password, challenges = {}) {
  const details = new AuthenticationDetails({ Username: user.getUsername(), Password: password });
  return new Promise((resolve, reject) => {
    const unexpected = name => () => reject(new Error(`unexpected challenge callback ${name}`));
    const callbacks = { onSuccess: resolve, onFailure: reject };
    for (const name of ['newPasswordRequired', 'mfaRequired', 'totpRequired', 'mfaSetup', 'selectMFAType',
      'customChallenge']) {
      callbacks[name] = challenges[name]
        ? (...args) => challenges[name](resolve, reject, ...args)
        : unexpected(name);
    }
    user.authenticateUser(details, callbacks);
  });
}

/** `sendMFACode` for SOFTWARE_TOKEN_MFA as a promise of the session. */
function sendTotp(user, code) {
  return new Promise((resolve, reject) => {
    user.sendMFACode(code, { onSuccess: resolve, onFailure: reject }, 'SOFTWARE_TOKEN_MFA');
  });
}

/** The library's synchronous storage interface over a Map, so that a scenario can show
 * what the library cached: the same object for two CognitoUsers is the same browser. */
class MapStorage {
  items = new Map();

  setItem(key, value) { this.items.set(key, value); }

  getItem(key) { return this.items.get(key) ?? null; }

  removeItem(key) { this.items.delete(key); }

  clear() { this.items.clear(); }

  /** The device the library keeps (`CognitoIdentityServiceProvider.<client>.<user>.deviceKey`,
   * `.deviceGroupKey`, `.randomPasswordKey`); the random password is only said to be there. */
  device() {
    const found = suffix => [...this.items].find(([key]) => key.endsWith(suffix))?.[1] ?? null;
    return { deviceKey: found('.deviceKey'), deviceGroupKey: found('.deviceGroupKey'),
             hasRandomPassword: Boolean(found('.randomPasswordKey')) };
  }
}

/** `{onSuccess, onFailure}` callbacks as a promise. */
function succeeded(fn) {
  return new Promise((resolve, reject) => fn({ onSuccess: resolve, onFailure: reject }));
}

/** A code that is not `code`, for the refusal a scenario checks first. */
const wrongCode = code => (code === '000000' ? '111111' : '000000');

export const scenarios = {
  /** `signUp`, then `confirmRegistration` with the code the test read from the mail
   * (a wrong code first: it must be refused). Input: `email`. */
  async sign_up(input) {
    const pool = poolOf(input);
    const attributes = [new CognitoUserAttribute({ Name: 'email', Value: input.email })];
    const signedUp = await called(cb => pool.signUp(input.username, input.password, attributes, null, cb));
    const { code } = await ask({ mailed_code: input.email });
    const user = userOf(input, pool);
    const wrong = await settle(called(cb => user.confirmRegistration(wrongCode(code), true, cb)));
    const confirmed = await called(cb => user.confirmRegistration(code, true, cb));
    return {
      userConfirmed: signedUp.userConfirmed,
      userSub: signedUp.userSub,
      codeDeliveryDetails: signedUp.codeDeliveryDetails,
      wrongCode: wrong.error ?? null,
      confirmed,
    };
  },

  /** `authenticateUser` with `flow` (the library's default, USER_SRP_AUTH, when absent),
   * `getSession` from the cache, then `refreshSession` after `pauseMs`. */
  async sign_in(input) {
    const user = userOf(input);
    const flow = user.getAuthenticationFlowType();
    const session = await authenticate(user, input.password);
    const cached = await called(cb => user.getSession(cb));
    await sleep(input.pauseMs ?? 0);
    const refreshed = await called(cb => user.refreshSession(session.getRefreshToken(), cb));
    const after = await called(cb => user.getSession(cb));
    return {
      flow,
      first: tokensOf(session),
      cachedIsFirst: cached.getAccessToken().getJwtToken() === session.getAccessToken().getJwtToken(),
      refreshed: tokensOf(refreshed),
      sessionAfterRefresh: tokensOf(after),
    };
  },

  /** A password sign-in that must be refused; the error as data. */
  async refused_sign_in(input) {
    const outcome = await settle(authenticate(userOf(input), input.password));
    return outcome.error ?? { unexpected: 'signed in' };
  },

  /** In a pool whose MFA is ON: MFA_SETUP answered by `associateSoftwareToken` and
   * `verifySoftwareToken` (Session), then a second sign-in answered by `sendMFACode`
   * (a wrong code first). The test computes each TOTP code from the secret. */
  async totp_setup_then_sign_in(input) {
    let secret;
    const enrolling = userOf(input);
    const enrolled = await authenticate(enrolling, input.password, {
      mfaSetup: (resolve, reject) => enrolling.associateSoftwareToken({
        onFailure: reject,
        associateSecretCode: async shared => {
          secret = shared;
          const { code } = await ask({ totp: secret });
          enrolling.verifySoftwareToken(code, 'node peer', { onSuccess: resolve, onFailure: reject });
        },
      }),
    });
    const { wrong, session } = await signInWithTotp(userOf(input), input.password, secret);
    return { secret, enrolled: tokensOf(enrolled), wrongCode: wrong, signedIn: tokensOf(session) };
  },

  /** A signed-in user adds TOTP with the AccessToken (`associateSoftwareToken`,
   * `verifySoftwareToken`), makes it preferred (`setUserMfaPreference`), and the next
   * sign-in asks for it (SOFTWARE_TOKEN_MFA, answered by `sendMFACode`). */
  async totp_added_when_signed_in(input) {
    const user = userOf(input);
    await authenticate(user, input.password);
    const secret = await new Promise((resolve, reject) => {
      user.associateSoftwareToken({ onFailure: reject, associateSecretCode: resolve });
    });
    const { code } = await ask({ totp: secret });
    const verified = await new Promise((resolve, reject) => {
      user.verifySoftwareToken(code, 'node peer', { onSuccess: resolve, onFailure: reject });
    });
    const preference = await called(cb => user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, cb));
    const { wrong, session } = await signInWithTotp(userOf(input), input.password, secret);
    return { secret, verified, preference, wrongCode: wrong, signedIn: tokensOf(session) };
  },

  /** In a pool that remembers devices: `authenticateUser` (SRP) gets NewDeviceMetadata and
   * the library confirms the device itself (ConfirmDevice with its own verifier); the test
   * is told the access token (it looks at the devices and turns TOTP on), then a second
   * `authenticateUser` with the same storage, which must need no TOTP code. */
  async remembered_device(input) {
    const storage = new MapStorage();
    const pool = poolOf(input);
    const calls = recordCalls();
    const first = await authenticate(userOf(input, pool, storage), input.password);
    const firstCalls = calls.splice(0);
    const device = storage.device();
    await ask({ signed_in: tokensOf(first).access });
    const second = await authenticate(userOf(input, pool, storage), input.password);
    return { device, first: tokensOf(first), firstCalls, second: tokensOf(second), secondCalls: calls.splice(0) };
  },

  /** A sign-in from a process that has no device: SOFTWARE_TOKEN_MFA (a wrong code first),
   * answered with the code the test gives for `secret`. */
  async totp_sign_in(input) {
    const storage = new MapStorage();
    const calls = recordCalls();
    const { wrong, session } = await signInWithTotp(userOf(input, poolOf(input), storage), input.password,
                                                    input.secret);
    return { wrongCode: wrong, tokens: tokensOf(session), calls, device: storage.device() };
  },

  /** The library's device calls on the device it confirmed at sign-in: `getDevice`,
   * `listDevices`, `setDeviceStatusNotRemembered` (the test checks it and turns TOTP on);
   * a sign-in from the same storage then meets SOFTWARE_TOKEN_MFA and answers it, and
   * `forgetDevice` forgets the device and clears the cache. */
  async manage_devices(input) {
    const storage = new MapStorage();
    const pool = poolOf(input);
    const user = userOf(input, pool, storage);
    await authenticate(user, input.password);
    const device = storage.device();
    const got = await succeeded(cb => user.getDevice(cb));
    const listed = await new Promise((resolve, reject) => {
      user.listDevices(60, null, { onSuccess: resolve, onFailure: reject });
    });
    const notRemembered = await succeeded(cb => user.setDeviceStatusNotRemembered(cb));
    const { secret } = await ask({ not_remembered: device.deviceKey,
                                   access: user.getSignInUserSession().getAccessToken().getJwtToken() });
    const calls = recordCalls();
    const again = userOf(input, pool, storage);
    const { wrong, session } = await signInWithTotp(again, input.password, secret);
    const signInCalls = calls.splice(0);
    const forgotten = await succeeded(cb => again.forgetDevice(cb));
    return {
      device, got, listed, notRemembered, wrongCode: wrong, tokens: tokensOf(session), signInCalls, forgotten,
      cachedAfterForget: storage.device(),
    };
  },
};

/** A sign-in that meets SOFTWARE_TOKEN_MFA: a wrong code (refused, the Session lives on),
 * then the code the test gives for `secret`. */
async function signInWithTotp(user, password, secret) {
  let wrong;
  const session = await authenticate(user, password, {
    totpRequired: async (resolve, reject) => {
      const { code } = await ask({ totp: secret });
      wrong = errorOf(await sendTotp(user, wrongCode(code)).then(() => null, err => err));
      sendTotp(user, code).then(resolve, reject);
    },
  });
  return { wrong, session };
}
