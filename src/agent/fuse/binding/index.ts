// agent/fuse/binding: the only code that loads fuse-native.
//
// Parts: mount-options (our libfuse option string, replacing fuse-native's
// _fuseOptions), op-guard (each request answered exactly once with an integer
// code; handler timeouts), pfs-fuse-class (the Fuse subclass: options,
// dispatch tracking, fixed fgetattr/getxattr/create/utimens adapters),
// caller-context (the native pfs_fuse_context addon: caller uid/gid/pid,
// create flags, exact utimens with 'now'/omit; for hard_remove: NULL paths
// made "", and fstat of an unlinked open file routed to fgetattr; a mount
// registry, lock/flock ops and kernel cache invalidation), native-events (what
// the addon's threads post to JS), lock-ops (ops.lock/ops.flock calls, guarded
// like op-guard's), fuse-mount (createFuseMount, invalidateInode/Entry and
// unmount helpers).
// Invariants: nothing in node_modules is edited; handlers run on the main
// thread, so nothing here does synchronous I/O on a mount (cache invalidation
// walks paths on the mount, on the addon's own threads); an unknown libfuse
// option is refused before mounting (libfuse would leave a dead mount).
// docs/FUSE-BINDING.md is the reference.

export { createFuseMount, forceUnmount, isMounted, type CreateFuseMountOptions, type FuseMount } from './fuse-mount.js';
export { buildMountOptions, formatOptionArg, LIBFUSE2_MAX_WRITE_BYTES, MAX_REQUEST_BYTES, type FuseMountOptions } from './mount-options.js';
export type { HandlerErrorReporter, HandlerTimeouts } from './op-guard.js';
export type { CallerContext, TimeSpec, UtimensTime } from './caller-context.js';
export type {
  FuseCode, FuseDone, FuseFlockRequest, FuseLock, FuseLockCmd, FuseLockRequest, FuseLockType, FuseOpName, FuseOps, FuseStat, FuseStatfs,
} from './types.js';
