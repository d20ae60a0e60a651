/** mount.pfs, the mount(8) helper (mount-helper.ts): `mount -t pfs VOLUME DIR -o conf=FILE`. */
import { runMountHelper } from './mount-helper.js';

runMountHelper(process.argv.slice(2)).then((code) => process.exit(code));
