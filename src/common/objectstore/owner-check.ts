/**
 * Whether someone other than root or this process's user could change a file or directory: the
 * rule for a plug-in this daemon runs (open.ts) and a local store directory an agent writes
 * into (check-server-store.ts).
 */
import { statSync } from 'node:fs';

/** Why others could change `f` ("belongs to uid N, ...", "is writable by ..."), or undefined. A sticky directory counts as safe when stickyOk. */
export function othersCanChange(f: string, opts: { stickyOk: boolean; user: string }): string | undefined {
  const st = statSync(f);
  const me = process.geteuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== me) return `belongs to uid ${st.uid}, not to root or to ${opts.user}`;
  const sticky = opts.stickyOk && st.isDirectory() && (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !sticky) return `is writable by its group or by everyone (mode ${(st.mode & 0o7777).toString(8)})`;
  return undefined;
}
