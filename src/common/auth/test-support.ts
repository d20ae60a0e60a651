/**
 * Helpers for tests that run real plug-in processes: executable scripts in a temp dir, a pino
 * logger that records its lines, and waiting for conditions.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeScript(dir: string, name: string, text: string, mode = 0o755): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

/**
 * A node plug-in (CommonJS) whose behaviour is `body`. The prelude defines:
 *   blob           the value of the environment variable named by argv[1]
 *   n, token()     a counter and a fresh token `tok-<pid>-<n>`
 *   swift()        a Swift answer with a fresh token, as JSON text
 *   say(text)      writes text and a newline to stdout
 *   onByte         called once per byte read from stdin (default: say(swift())); exits 0 on EOF
 *   fs, marker(f)  node:fs, and a helper: true the first time it is called for file f
 */
export function nodePlugin(dir: string, name: string, body: string): string {
  return writeScript(dir, name, `#!/usr/bin/env node
'use strict';
const fs = require('node:fs');
const blob = process.env[process.argv[2]] ?? '';
let n = 0;
const token = () => 'tok-' + process.pid + '-' + (++n);
const swift = () => JSON.stringify({ AuthToken: token(), StorageURL: 'http://127.0.0.1:8080/v1/AUTH_test' });
const say = (text) => process.stdout.write(text + '\\n');
const marker = (f) => { if (fs.existsSync(f)) return false; fs.writeFileSync(f, ''); return true; };
let onByte = () => say(swift());
process.stdin.on('data', (b) => { for (let i = 0; i < b.length; i++) onByte(); });
process.stdin.on('end', () => process.exit(0));
${body}
`);
}

export interface CapturedLog {
  logger: pino.Logger;
  lines: string[];
  /** Every line, joined: for asserting that a secret appears nowhere. */
  text(): string;
  messages(): string[];
}

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, {
    write: (s: string) => {
      lines.push(s);
      if (process.env.PFS_TEST_LOG) process.stdout.write(s);
    },
  });
  return {
    logger,
    lines,
    text: () => lines.join(''),
    messages: () => lines.map((l) => String((JSON.parse(l) as { msg?: unknown }).msg)),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid inside a token made by nodePlugin's token(). */
export function pidOf(token: string): number {
  return Number(token.split('-')[1]);
}
