/**
 * What a library said to the cognito-idp API and what it heard back, seen at `fetch` (both
 * libraries call the global `fetch` when they send, so a wrapper sees every call): the
 * operation, the AuthFlow or ChallengeName sent and the DEVICE_KEY (or DeviceKey) it named, then the
 * next challenge, the tokens (with or without NewDeviceMetadata) or the error type.
 *
 *     const calls = recordCalls();
 *     await signIn(...);
 *     calls.splice(0)  // [{op: 'InitiateAuth', sent: 'USER_SRP_AUTH', deviceKey: null, got: 'PASSWORD_VERIFIER'}, ...]
 */
const TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';

/** What one answer was: a challenge's name, `tokens`, `tokens+NewDeviceMetadata`, an error
 * type, or `ok` for any other answer. */
function outcome(status, answer) {
  if (status >= 400) return String(answer.__type ?? status).split('#').pop();
  if (answer.ChallengeName) return answer.ChallengeName;
  if (answer.AuthenticationResult) {
    return answer.AuthenticationResult.NewDeviceMetadata ? 'tokens+NewDeviceMetadata' : 'tokens';
  }
  return 'ok';
}

/**
 * Start recording the calls to one AWS service made from now on (its `x-amz-target` starts
 * with `prefix`): `describe(op, body, status, answer)` makes each record. Returns the array
 * they are pushed to.
 */
export function recordTargets(prefix, describe) {
  const calls = [];
  const send = globalThis.fetch;
  globalThis.fetch = async (url, init = {}) => {
    const response = await send(url, init);
    const target = new Headers(init.headers).get('x-amz-target') ?? '';
    if (!target.startsWith(prefix)) return response;
    const body = JSON.parse(init.body ?? '{}');
    const answer = await response.clone().json().catch(() => ({}));
    calls.push(describe(target.slice(prefix.length), body, response.status, answer));
    return response;
  };
  return calls;
}

/** Start recording the cognito-idp calls made from now on; returns the array they are pushed to. */
export function recordCalls() {
  return recordTargets(TARGET_PREFIX, (op, body, status, answer) => {
    const params = body.ChallengeResponses ?? body.AuthParameters ?? body;
    return {
      op, sent: body.ChallengeName ?? body.AuthFlow ?? null, deviceKey: params.DEVICE_KEY ?? body.DeviceKey ?? null,
      got: outcome(status, answer),
    };
  });
}
