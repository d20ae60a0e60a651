/**
 * Auth plug-ins: the external programs that turn long-lived secrets into object-store
 * credentials (docs/PLUGINS.md).
 *
 * Parts:
 *   json-stream.ts     splits the plug-in's stdout into JSON objects (brace-depth scanner)
 *   answer.ts          checks one object and turns it into Credentials (Swift or S3 shape)
 *   redact.ts          replaces known secrets in text that is about to be logged
 *   plugin-process.ts  one run of the plug-in: spawn, answers, renewal bytes, faults, shutdown
 *   plugin.ts          startAuthPlugin: the CredentialSource policy (restarts, shared renewals,
 *                      bounds on waiting, proactive renewal of expiring S3 keys)
 * Invariants: secrets (the environment value, tokens, keys) never appear in a log line or an
 * error message; a caller of get()/renew() never waits longer than answerTimeoutMs * 2.
 */
export type { CredentialSource, Credentials, S3Credentials, SwiftCredentials } from './types.js';
export { startAuthPlugin, MAX_FAILED_STARTS, type AuthPluginOptions } from './plugin.js';
export { PluginProcess, type PluginExit, type PluginFault, type PluginProcessOptions } from './plugin-process.js';
export { Redactor, REDACTED } from './redact.js';
export { parseAnswer, secretsOf } from './answer.js';
