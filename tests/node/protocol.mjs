/**
 * The line protocol between a scenario and the Python test that runs it (tests/node_peers.py).
 *
 * stdout carries JSON lines only: `{"ask": {...}}` when the scenario needs something that
 * only the test has (a code from the mail it received, a TOTP code from a secret), answered
 * by one JSON line on stdin, then one last `{"result": ...}`. The libraries' own console
 * output is sent to stderr so that it can never be read as an answer.
 */
import { createInterface } from 'node:readline';

const write = process.stdout.write.bind(process.stdout);
console.log = console.info = console.debug = console.error;

let answers;

/** Print one protocol line on stdout (pipes are written synchronously on Linux). */
export function emit(line) {
  write(`${JSON.stringify(line)}\n`);
}

/** Ask the test for something and wait for its one-line JSON answer. */
export async function ask(question) {
  answers ??= createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  emit({ ask: question });
  const { value, done } = await answers.next();
  if (done) throw new Error(`the test closed stdin instead of answering ${JSON.stringify(question)}`);
  return JSON.parse(value);
}

/** What a test may assert about a refusal: the AWS error type travels in `name` or `code`. */
export function errorOf(err) {
  return { name: err?.name, code: err?.code, message: err?.message };
}

/** The outcome of `promise` as data: `{ok: value}` or `{error: errorOf(...)}`. */
export async function settle(promise) {
  try {
    return { ok: await promise };
  } catch (err) {
    return { error: errorOf(err) };
  }
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
