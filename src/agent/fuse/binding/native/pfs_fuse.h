// Shared by the parts of the pfs_fuse_context addon (one .node, several .c files):
//  pfs_fuse_context.c  fuse_new/op trampolines, caller context, hard_remove fixes, module init
//  pfs_fuse_mounts.c   mount registry: fuse_mount/fuse_unmount interposition, per-mount flags
//  pfs_fuse_locks.c    lock/flock ops, close-time unlocks
//  pfs_fuse_dispatch.c requests and events to JS through a threadsafe function
//  pfs_fuse_notify.c   kernel cache invalidation (FUSE_NOTIFY_INVAL_INODE/ENTRY) off the JS thread
//  pfs_fuse_pages.c    requests above 128 KiB: FUSE_MAX_PAGES in the INIT reply, larger receive buffers
// All libfuse/kernel layouts come from the libfuse 2.9 headers fuse-shared-library-linux ships.

#ifndef PFS_FUSE_H
#define PFS_FUSE_H

#define _GNU_SOURCE
#define FUSE_USE_VERSION 29
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <stdint.h>

// Everything declared here stays inside the addon (it is dlopen'ed RTLD_GLOBAL;
// only the interposed libfuse functions and the N-API entry are exported).
#pragma GCC visibility push(hidden)

// FUSE kernel opcodes the addon looks at (fuse_kernel.h, stable ABI).
#define K_GETATTR 3
#define K_OPEN 14
#define K_RELEASE 18
#define K_FLUSH 25
#define K_CREATE 35
#define K_INIT 26

// The request this FUSE thread is processing (set around fuse_session_process_buf).
extern __thread const struct fuse_session *cur_se;
extern __thread uint32_t cur_opcode;
extern __thread uint64_t cur_nodeid;
// FUSE_INIT only: the protocol minor version the kernel's INIT request offered.
extern __thread uint32_t cur_init_minor;

// ---- mount registry (pfs_fuse_mounts.c) ----
#define PFS_WANT_LOCK 1u
#define PFS_WANT_FLOCK 2u

// At fuse_new: the registration made for this channel's mount point (0 if none) and its flags.
int pfs_mount_for_chan(struct fuse_chan *ch, unsigned *flags);
// After fuse_new: record what was installed (installed = PFS_WANT_* bits actually set, wrapped = our table used).
void pfs_mount_started(int id, struct fuse *f, struct fuse_chan *ch, unsigned installed, int wrapped);
// The registration id and installed flags of the mount a FUSE thread serves (0 if none).
int pfs_mount_for_fuse(const struct fuse *f, unsigned *installed);
// Notify side: take/give back the mount's /dev/fuse descriptor (dup) and mount point.
// Returns the fd (>= 0) or -errno; *root_mnt_id is the mount id seen at the root (-1 unknown).
int pfs_mount_acquire(int id, char *mnt, size_t mnt_len, int *root_mnt_id);
void pfs_mount_release(int id, int root_mnt_id);
// Request size (bytes) the registration of this channel asked for; 0 if none or not registered.
size_t pfs_mount_request_bytes(struct fuse_chan *ch);
// The INIT reply for this channel was sent, offering requests of this many bytes (0: libfuse's own).
void pfs_mount_negotiated(struct fuse_chan *ch, int bytes);
napi_status pfs_mounts_init(napi_env env, napi_value exports);

// ---- locks (pfs_fuse_locks.c) ----
int pfs_tr_lock(const char *path, struct fuse_file_info *fi, int cmd, struct flock *lk);
int pfs_tr_flock(const char *path, struct fuse_file_info *fi, int op);
// release: for a file description that used flock, release its flock locks first (LOCK_UN, closing).
void pfs_release_flock(const char *path, struct fuse_file_info *fi);
// An owner that asked for a POSIX lock through handle fh of the node and was not unlocked by a FLUSH.
int pfs_lock_owner_for_fh(const struct fuse_session *se, uint64_t nodeid, uint64_t fh, uint64_t *owner);
// release: owners that locked through this handle and got no FLUSH unlock (OFD locks) get one now.
void pfs_release_locks(const char *path, struct fuse_file_info *fi);
// A new session at this address: drop lock-owner records a dead one left.
void pfs_locks_session_reset(const struct fuse_session *se);

// ---- dispatch to JS (pfs_fuse_dispatch.c) ----
typedef struct pfs_msg pfs_msg_t;
typedef struct { int type; double start, len; int pid; } pfs_lock_out_t;
// A lock/flock request (kind EV_LOCK/EV_FLOCK) with the caller's context; NULL when out of memory.
pfs_msg_t *pfs_new_request(int kind, int mount_id, const char *path, const struct fuse_file_info *fi);
void pfs_msg_set(pfs_msg_t *m, int cmd, int type, double start, double len, int pid, int closing);
// On a FUSE thread: hands m to JS (takes it) and waits for lockReply; its code, and getlk's lock in out.
int pfs_dispatch(pfs_msg_t *m, pfs_lock_out_t *out);
// Posted to JS without waiting (interrupt, mount ended, notify completions).
void pfs_post_event(int kind, double id, int mount_id, int code, int found);
napi_status pfs_dispatch_init(napi_env env, napi_value exports);

// Event kinds delivered to the JS dispatcher (first argument).
#define EV_LOCK 0
#define EV_FLOCK 1
#define EV_INTERRUPT 2
#define EV_MOUNT_ENDED 3
#define EV_NOTIFY_DONE 4

// ---- notify (pfs_fuse_notify.c) ----
napi_status pfs_notify_init(napi_env env, napi_value exports);

#pragma GCC visibility pop

#endif
