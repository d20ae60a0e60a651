/**
 * pfsagentd-s3-auth-plugin: S3 keys for pfsagentd (plugins/pfsagentd-s3-auth-plugin/README.md).
 *
 * Configuration (JSON in the environment variable named by argv[1]), one of:
 *   static keys:  {"AccessKeyId","SecretAccessKey","SessionToken"?,"Expiration"?,"Endpoint"?,"Region"?,"Bucket"?}
 *                 printed as they are.
 *   a profile:    {"Profile","CredentialsFile"?,"Endpoint"?,"Region"?,"Bucket"?}
 *                 read from an AWS shared-credentials INI file (default $AWS_SHARED_CREDENTIALS_FILE,
 *                 else ~/.aws/credentials) on every request, so a rotated file is picked up.
 *                 Section [NAME] or [profile NAME]; keys aws_access_key_id, aws_secret_access_key,
 *                 aws_session_token, and region / endpoint_url when the configuration has none.
 * Prints the AWS credential_process shape: {"Version":1,"AccessKeyId","SecretAccessKey",...}.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import ini from 'ini';
import { field, optionalField, PluginFailure, readConfig, serve } from './runtime.js';

const NAME = 'pfsagentd-s3-auth-plugin';

type Conf = Record<string, unknown>;

function credentialsFile(conf: Conf): string {
  const file = optionalField(conf, 'CredentialsFile') ?? process.env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials';
  return file === '~' || file.startsWith('~/') ? path.join(homedir(), file.slice(1)) : file;
}

function fromProfile(conf: Conf): Record<string, string | undefined> {
  const profile = field(conf, 'Profile');
  const file = credentialsFile(conf);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PluginFailure(`cannot read credentials file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const sections = ini.parse(text) as Record<string, unknown>;
  const section = (sections[profile] ?? sections[`profile ${profile}`]) as Record<string, unknown> | undefined;
  if (!section || typeof section !== 'object') throw new PluginFailure(`credentials file ${file} has no profile [${profile}]`);
  const key = (name: string, required: boolean): string | undefined => {
    const v = section[name];
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    if (required) throw new PluginFailure(`profile [${profile}] in ${file} has no ${name}`);
    return undefined;
  };
  return {
    AccessKeyId: key('aws_access_key_id', true),
    SecretAccessKey: key('aws_secret_access_key', true),
    SessionToken: key('aws_session_token', false),
    Endpoint: optionalField(conf, 'Endpoint') ?? key('endpoint_url', false),
    Region: optionalField(conf, 'Region') ?? key('region', false),
    Bucket: optionalField(conf, 'Bucket'),
  };
}

function fromStatic(conf: Conf): Record<string, string | undefined> {
  return {
    AccessKeyId: field(conf, 'AccessKeyId'),
    SecretAccessKey: field(conf, 'SecretAccessKey'),
    SessionToken: optionalField(conf, 'SessionToken'),
    Expiration: optionalField(conf, 'Expiration'),
    Endpoint: optionalField(conf, 'Endpoint'),
    Region: optionalField(conf, 'Region'),
    Bucket: optionalField(conf, 'Bucket'),
  };
}

serve(NAME, async () => {
  const conf = readConfig();
  const keys = conf.Profile !== undefined ? fromProfile(conf) : fromStatic(conf);
  // JSON.stringify drops the undefined fields.
  return { Version: 1, ...keys };
});
