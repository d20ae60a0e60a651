// Shared by the binding's real-mount tests: why such a test cannot run here (undefined when
// it can), and running a command as a child process (never sync I/O on a mount from the
// process serving it).

import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function fuseSkipReason(opts: { python3?: boolean } = {}): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  if (!existsSync('/usr/bin/fusermount') && !existsSync('/bin/fusermount')) return 'no fusermount (apt-get install fuse)';
  if (opts.python3 && !existsSync('/usr/bin/python3')) return 'no python3';
  try {
    execFileSync(process.execPath, ['-e', 'require("fuse-native")'], { cwd: here, stdio: 'pipe' });
  } catch {
    return 'fuse-native does not load (apt-get install libfuse2)';
  }
  return undefined;
}

export function sh(cmd: string, args: string[], timeoutMs = 25_000): Promise<{ code: number; stdout: string; stderr: string; pid: number }> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr, pid: child.pid ?? -1 });
    });
  });
}
