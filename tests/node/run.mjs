/**
 * Runs one scenario of a JavaScript client library against a live Cognate server:
 *
 *     node run.mjs identity-js sign_in '{"endpoint": "http://127.0.0.1:5000", ...}'
 *
 * `identity-js.mjs` drives amazon-cognito-identity-js, `amplify.mjs` Amplify v6; each exports
 * `scenarios`, functions of the input object. The result is the last line on stdout (see
 * protocol.mjs); an exception exits 1 with its stack on stderr.
 */
import { emit } from './protocol.mjs';

const [library, scenario, input] = process.argv.slice(2);

try {
  const { scenarios } = await import(`./${library}.mjs`);
  if (!Object.hasOwn(scenarios, scenario)) throw new Error(`${library} has no scenario ${scenario}`);
  emit({ result: await scenarios[scenario](JSON.parse(input ?? '{}')) });
  process.exit(0);
} catch (err) {
  console.error(err?.stack ?? err);
  if (err?.name || err?.code) console.error(JSON.stringify({ name: err.name, code: err.code }));
  process.exit(1);
}
