/**
 * CUSTOM_AUTH as apps drive it with the JavaScript libraries, against the pool's Define,
 * Create and Verify triggers: amazon-cognito-identity-js's `authenticateUser` with the flow
 * CUSTOM_AUTH (SRP_A first, then PASSWORD_VERIFIER, then `customChallenge` answered with
 * `sendCustomChallengeAnswer`), and Amplify v6's `signIn` with CUSTOM_WITHOUT_SRP and
 * CUSTOM_WITH_SRP, answered with `confirmSignIn`. Each challenge is asked of the test
 * (`{custom_challenge: <public parameters>}`), which answers `{answer}`: a wrong code first,
 * then the right one.
 *
 * Every scenario takes `{endpoint, poolId, clientId, username, password}`.
 */
import {
  AuthenticationDetails, CognitoUser, CognitoUserPool,
} from 'amazon-cognito-identity-js';
import { Amplify } from 'aws-amplify';
import { confirmSignIn, fetchAuthSession, signIn } from 'aws-amplify/auth';

import { ask } from './protocol.mjs';

export const scenarios = {
  /** `authenticateUser` with CUSTOM_AUTH: the password by SRP, then the custom challenges. */
  async identity_js_custom_with_srp(input) {
    const pool = new CognitoUserPool({ UserPoolId: input.poolId, ClientId: input.clientId, endpoint: input.endpoint });
    const user = new CognitoUser({ Username: input.username, Pool: pool });
    user.setAuthenticationFlowType('CUSTOM_AUTH');
    const details = new AuthenticationDetails({ Username: input.username, Password: input.password });
    const challenges = [];
    const session = await new Promise((resolve, reject) => {
      const callbacks = {
        onSuccess: resolve,
        onFailure: reject,
        customChallenge: async parameters => {
          challenges.push(parameters);
          const { answer } = await ask({ custom_challenge: parameters });
          user.sendCustomChallengeAnswer(answer, callbacks);
        },
      };
      user.authenticateUser(details, callbacks);
    });
    return { challenges, access: session.getAccessToken().getJwtToken(), id: session.getIdToken().getJwtToken() };
  },

  /** Amplify's `signIn` with `authFlowType` (CUSTOM_WITHOUT_SRP by default), then
   * `confirmSignIn` with each answer until it is done. */
  async amplify_custom(input) {
    Amplify.configure({ Auth: { Cognito: { userPoolId: input.poolId, userPoolClientId: input.clientId,
                                           userPoolEndpoint: input.endpoint } } });
    const flow = input.flow ?? 'CUSTOM_WITHOUT_SRP';
    const steps = [];
    let result = await signIn({ username: input.username, password: flow === 'CUSTOM_WITH_SRP' ? input.password : undefined,
                                options: { authFlowType: flow } });
    while (!result.isSignedIn) {
      steps.push({ step: result.nextStep.signInStep, additionalInfo: result.nextStep.additionalInfo ?? null });
      if (result.nextStep.signInStep !== 'CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE' || steps.length > 5) {
        return { steps, unexpected: result.nextStep.signInStep };
      }
      const { answer } = await ask({ custom_challenge: result.nextStep.additionalInfo });
      result = await confirmSignIn({ challengeResponse: answer });
    }
    const { tokens } = await fetchAuthSession();
    return { steps, done: result.nextStep.signInStep, access: tokens.accessToken.toString() };
  },
};
