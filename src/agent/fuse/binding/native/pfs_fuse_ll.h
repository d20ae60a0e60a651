// pfs_fuse_ll: the inode-based FUSE session (docs/FUSE-BINDING.md part 8). Shared by its parts:
//   pfs_fuse_ll.c         the session: mount, the request queue, dispatch to JS, the two readers, teardown
//   pfs_fuse_ll_ops.c     libfuse's low-level handlers: each copies its request into a message
//   pfs_fuse_ll_reply.c   the request slot table and the reply functions JS calls
//   pfs_fuse_ll_notify.c  the notifier thread (FUSE_NOTIFY_INVAL_*) and the security.capability set

#ifndef PFS_FUSE_LL_H
#define PFS_FUSE_LL_H

#define _GNU_SOURCE
#define FUSE_USE_VERSION 29
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

// Message opcodes, as session.ts knows them (lowlevel/addon.ts OP).
enum {
  OP_INIT = 0, OP_END, OP_LOOKUP, OP_FORGET, OP_GETATTR, OP_SETATTR, OP_OPENDIR, OP_READDIR,
  OP_RELEASEDIR, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE, OP_FSYNC, OP_CREATE,
  OP_MKDIR, OP_LINK, OP_UNLINK, OP_STATFS, OP_READLINK, OP_MKNOD, OP_RMDIR, OP_SYMLINK,
  OP_RENAME, OP_FSYNCDIR, OP_SETXATTR, OP_GETXATTR, OP_LISTXATTR, OP_REMOVEXATTR, OP_ACCESS,
  OP_GETLK, OP_SETLK, OP_FLOCK, OP_INTERRUPT,
};

// Features JS asks for at mount (what its op table has): they change the INIT negotiation.
enum { FEAT_POSIX_LOCKS = 1, FEAT_FLOCK = 2 };

typedef struct msg {
  struct msg *next;
  int op;
  int is_request;         // holds a slot (answered by JS); INTERRUPT/FORGET/INIT/END do not
  double id;              // request: its slot id; INTERRUPT: the interrupted request's id
  uint64_t ino, fh;
  double x, y;            // per op (pfs_fuse_ll_ops.c says which)
  char *name, *name2;     // copies; name2: rename's new name, symlink's target, a lock owner
  void *data;             // write/setxattr: bytes (a Buffer); setattr, forget, locks: doubles
  size_t data_len;
  int data_bytes;         // data becomes a Buffer (else a Float64Array)
  int wslot;              // write: 1 + the write-pool slot holding the payload (data NULL), else 0
} msg_t;

typedef struct capset {
  pthread_mutex_t mu;
  uint64_t *keys;         // open addressing, 0 = empty (node id 0 is never used)
  size_t cap, count;
  double answers;
} capset_t;

typedef struct njob njob_t;

#define WPOOL_SLOTS 16

typedef struct sess {
  char *mnt;
  struct fuse_chan *ch;   // the session's channel: the kernel's, or the own one (pfs_fuse_ll_chan.c)
  struct fuse_chan *kch;  // with the own channel: fuse_mount's, which owns the fd (else NULL)
  uint32_t init_minor;    // own channel: the minor of the kernel's INIT, once read
  uint64_t init_unique;   // own channel: the INIT request's unique (its reply is extended)
  uint32_t max_request;   // own channel: the request size asked (bytes); 0 without it
  uint32_t negotiated;    // the request size the INIT reply offered (FUSE_MAX_PAGES), 0 if none
  struct fuse_session *se;
  pthread_t thread;
  napi_threadsafe_function tsfn;
  napi_ref dispatch;
  pthread_mutex_t mu;
  msg_t *head, *tail;
  int unanswered;         // requests handed to JS and not answered (atomic)
  int end_seen;           // JS thread only
  int torn_down;
  int poll_mode;
  int in_poll;            // on_readable is running: teardown waits until it returns
  uv_poll_t poll;
  napi_env env;
  napi_ref resource;
  napi_async_context actx;
  char *buf;
  size_t bufsize;
  // The notifier (pfs_fuse_ll_notify.c): its own thread, started on first use.
  pthread_mutex_t nmu;
  pthread_cond_t ncond;
  njob_t *nhead, *ntail;
  int nstarted, nstop;
  pthread_t nthread;
  napi_threadsafe_function ntsfn;
  capset_t caps;
  // The write pool: payload buffers reused from one WRITE to the next, so a WRITE costs no
  // malloc (page faults, munmap) and no new external Buffer (whose external memory drives V8
  // into major GCs). JS returns a slot once it answered the write (releaseWrite). Taken on the
  // reading thread, returned on the JS thread: under wmu. Full: the payload is copied to a malloc.
  pthread_mutex_t wmu;
  size_t wsize;
  char *wmem[WPOOL_SLOTS];
  napi_ref wref[WPOOL_SLOTS]; // each slot's ArrayBuffer (JS-owned memory, pinned by the reference)
  int wbusy[WPOOL_SLOTS];
} sess_t;

// pfs_fuse_ll_chan.c: the own channel (requests above 128 KiB, FUSE_MAX_PAGES in the INIT reply).
struct fuse_chan *ll_chan_new(sess_t *s, int fd, size_t max_request);

// pfs_fuse_ll.c
void ll_push(sess_t *s, msg_t *m);
int ll_wpool_take(sess_t *s, size_t size);   // a free slot of at least size bytes, or -1
void ll_wpool_release(sess_t *s, int slot);
void ll_teardown_if_done(napi_env env, sess_t *s);

// pfs_fuse_ll_ops.c: the handler table, with lock handlers only when features ask for them.
void ll_make_ops(struct fuse_lowlevel_ops *ops, int features);

// pfs_fuse_ll_reply.c
double slot_take(fuse_req_t req, sess_t *s);        // -1: table full
fuse_req_t slot_release(double id, sess_t **s);     // NULL: no such request (answered, stale)
fuse_req_t slot_peek(double id);                    // under slot_lock() only
void slot_lock(void);
void slot_unlock(void);
void slot_interrupted(double id);
int slot_dispatched(double id);                     // marks it handed to JS; 1: already interrupted
napi_status ll_reply_props(napi_env env, napi_value exports);

// pfs_fuse_ll_notify.c
void notify_init(napi_env env, sess_t *s, napi_value done_cb);
void notify_stop(sess_t *s);                        // joins the notifier; JS thread
int capset_answer(capset_t *c, uint64_t ino);      // 1 (and counted): answer ENODATA here
napi_status ll_notify_props(napi_env env, napi_value exports);

// Helpers for the napi functions.
#define ARGS(n) \
  size_t argc = n; \
  napi_value argv[n]; \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) { \
    napi_throw_type_error(env, NULL, "wrong arguments"); \
    return NULL; \
  }

static inline double ll_num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

static inline napi_value ll_int(napi_env env, int r) {
  napi_value out;
  napi_create_int32(env, r, &out);
  return out;
}

#endif
