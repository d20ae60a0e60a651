// agent/fuse/binding/lowlevel: the inode-based FUSE session (prototype, issue 12 lever 1).
//
// Parts: session (createLowLevelSession over the pfs_fuse_ll addon: libfuse 2.9's low-level
// API, one loop thread queueing requests, replies from the JS thread), types (LlOps: handlers
// keyed by kernel node id = inode number, root = FUSE_ROOT_ID), mem-tree (a synthetic
// in-memory tree served both by LlOps and by path-based FuseOps, for tests and bench/fuse-session).
// Invariants: every request is answered exactly once (LlReply refuses a second answer); the
// kernel's lookup count of a node is what entry/create replies gave minus what forget took
// (MemTree keeps it); nothing here does synchronous I/O on its own mount.
// docs/FUSE-BINDING.md part 8 is the reference; the agent does not use it yet.

export { createLowLevelSession, lowLevelAddonPath, lowLevelStats, type LowLevelSession, type LowLevelSessionOptions } from './session.js';
export { FUSE_ROOT_ID, type LlAttr, type LlDirEntry, type LlOps, type LlReply, type LlSetAttr, type LlTimeouts } from './types.js';
export { MemTree } from './mem-tree.js';
export { createRawSession, type RawLlOps, type RawReply, type RawSession, type RawSessionOptions } from './raw-session.js';
