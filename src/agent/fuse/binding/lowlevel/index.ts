// agent/fuse/binding/lowlevel: the inode-based FUSE session (issue 12 lever 1, step 1 landed).
//
// Parts: addon (the pfs_fuse_ll addon: libfuse 2.9's low-level API; requests named by slot id
// and generation), dispatch (one addon message → one LlOps handler call), reply (LlReply: the
// xattr size probe and ERANGE, readdir offsets, r.signal aborted on FUSE_INTERRUPT),
// session-options (createFuseMount's mount options minus the high-level-only ones), session
// (createLowLevelSession: mount/unmount, notifications on the addon's notifier thread,
// security.capability answered in C), types (LlOps: handlers keyed by kernel node id = inode
// number, root = FUSE_ROOT_ID), mem-tree (a synthetic in-memory tree served by LlOps and by
// path-based FuseOps, for tests and bench/fuse-session), raw-session (rejected experiment: the
// protocol spoken from JS, kept for the bench).
// Invariants: every request is answered exactly once (a second answer is reported, never sent;
// a reply naming an answered request touches nothing); the kernel's lookup count of a node is
// what entry/create replies gave minus what forget took; no notification is written on the JS
// thread; nothing here does synchronous I/O on its own mount. READDIRPLUS and requests above
// 128 KiB need the own channel (step 2), not built: asking for them is refused.
// docs/FUSE-BINDING.md part 8 is the reference; the agent does not use it yet.

export { createLowLevelSession, type LowLevelSession } from './session.js';
export type { LowLevelSessionOptions, LowLevelMountOptions } from './session-options.js';
export { lowLevelAddonPath, lowLevelStats } from './addon.js';
export {
  FUSE_ROOT_ID, type LlAttr, type LlCaller, type LlDirEntry, type LlDirPlusEntry, type LlLock, type LlLockType, type LlOps, type LlReply,
  type LlSetAttr, type LlStatfs, type LlTimeouts,
} from './types.js';
export { MemTree } from './mem-tree.js';
export { createRawSession, type RawSession, type RawSessionOptions } from './raw-session.js';
