/**
 * Turns one JSON object printed by a plug-in into Credentials (docs/PLUGINS.md).
 *   Swift: {"AuthToken": string, "StorageURL": http(s) URL}
 *   S3:    {"Version"?: 1, "AccessKeyId": string, "SecretAccessKey": string, "SessionToken"?: string,
 *           "Expiration"?: ISO 8601, "Endpoint"?: http(s) URL, "Region"?: string, "Bucket"?: string}
 * Problems name the field and what is wrong with it, never its value: the value may be a secret.
 */
import type { Credentials } from './types.js';

export type AnswerResult = { ok: true; credentials: Credentials } | { ok: false; problem: string };

type Obj = Record<string, unknown>;

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

class FieldProblem extends Error {}

function requiredString(o: Obj, field: string): string {
  const v = o[field];
  if (v === undefined) throw new FieldProblem(`field "${field}" is missing`);
  if (typeof v !== 'string' || v === '') {
    throw new FieldProblem(`field "${field}" must be a non-empty string, got ${typeName(v) === 'string' ? 'an empty string' : typeName(v)}`);
  }
  return v;
}

function optionalString(o: Obj, field: string): string | undefined {
  return o[field] === undefined || o[field] === null ? undefined : requiredString(o, field);
}

function httpUrl(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new FieldProblem(`field "${field}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FieldProblem(`field "${field}" is not an http(s) URL`);
  return value;
}

function swift(o: Obj): Credentials {
  const authToken = requiredString(o, 'AuthToken');
  const storageUrl = httpUrl(requiredString(o, 'StorageURL'), 'StorageURL');
  return { kind: 'swift', authToken, storageUrl };
}

function s3(o: Obj): Credentials {
  if (o.Version !== undefined && o.Version !== 1) throw new FieldProblem(`field "Version" must be 1, got ${typeof o.Version === 'number' ? o.Version : typeName(o.Version)}`);
  const accessKeyId = requiredString(o, 'AccessKeyId');
  const secretAccessKey = requiredString(o, 'SecretAccessKey');
  const sessionToken = optionalString(o, 'SessionToken');
  const expirationText = optionalString(o, 'Expiration');
  let expiration: Date | undefined;
  if (expirationText !== undefined) {
    expiration = new Date(expirationText);
    if (!/^\d{4}-\d\d-\d\dT/.test(expirationText) || Number.isNaN(expiration.getTime())) {
      throw new FieldProblem(`field "Expiration" is not an ISO 8601 date-time (such as 2025-01-31T12:00:00Z)`);
    }
  }
  const endpoint = optionalString(o, 'Endpoint');
  if (endpoint !== undefined) httpUrl(endpoint, 'Endpoint');
  const region = optionalString(o, 'Region');
  const bucket = optionalString(o, 'Bucket');
  return {
    kind: 's3', accessKeyId, secretAccessKey,
    ...(sessionToken !== undefined && { sessionToken }),
    ...(expiration !== undefined && { expiration }),
    ...(endpoint !== undefined && { endpoint }),
    ...(region !== undefined && { region }),
    ...(bucket !== undefined && { bucket }),
  };
}

/** Parses and checks one object's text. */
export function parseAnswer(text: string): AnswerResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'printed text that is not valid JSON' };
  }
  if (typeName(value) !== 'object') return { ok: false, problem: `printed a JSON ${typeName(value)}, not an object` };
  const o = value as Obj;
  try {
    if ('AuthToken' in o || 'StorageURL' in o) return { ok: true, credentials: swift(o) };
    if ('AccessKeyId' in o || 'SecretAccessKey' in o) return { ok: true, credentials: s3(o) };
  } catch (err) {
    if (err instanceof FieldProblem) return { ok: false, problem: `printed an answer whose ${err.message}` };
    throw err;
  }
  return {
    ok: false,
    problem: 'printed an object with neither "AuthToken" and "StorageURL" (Swift) nor "AccessKeyId" and "SecretAccessKey" (S3)',
  };
}

/** The secret strings inside credentials, for redaction. */
export function secretsOf(c: Credentials): string[] {
  return c.kind === 'swift'
    ? [c.authToken]
    : [c.accessKeyId, c.secretAccessKey, ...(c.sessionToken ? [c.sessionToken] : [])];
}
