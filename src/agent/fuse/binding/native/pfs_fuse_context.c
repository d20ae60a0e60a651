// pfs_fuse_context: what fuse-native 2.2.6 does not pass to JavaScript.
//
// fuse-native never reads fuse_get_context(), drops create's open flags, and
// sends utimens the atime twice in whole ms. This addon is loaded with
// RTLD_GLOBAL before fuse-native's fuse.node, so its fuse_new() wins the symbol
// lookup of fuse.node's lazily bound fuse_new@FUSE_2.6. It wraps each op in a
// trampoline that, on the FUSE thread and before fuse-native sees the request,
// stores the caller context (and create's flags, utimens' exact times) in a
// slot keyed by the request's path pointer. fuse-native keeps that pointer in
// its per-thread locals (l->path) while the JS handler runs, so JS can find the
// slot from the locals buffer it is handed. The trampoline frees the slot when
// fuse-native's op returns. read and write only get the NULL-path fix below
// (hot path: no slot, no caller context).
//
// Flags set in the table handed to libfuse:
//  - flag_utime_omit_ok: utimens receives UTIME_NOW/UTIME_OMIT instead of
//    libfuse silently ignoring a change of only atime or only mtime.
//  - flag_nullpath_ok: with -ohard_remove, an unlinked file that is still open
//    has no path; libfuse 2.9 then calls read, write, flush, release, fsync,
//    ftruncate, fgetattr, readdir, releasedir and fsyncdir with path NULL
//    (without the flag it answers ENOENT itself, except flush, which gets NULL
//    anyway). fuse-native would hand NULL to napi_create_string_utf8, so every
//    trampoline replaces a NULL path by "" first. The "" is a per-thread buffer:
//    each FUSE thread carries one request at a time, so the slot key stays
//    unique and caller context still works for these requests.
//
//  - fstat of an unlinked open file (hard_remove mounts only): the kernel sends
//    GETATTR without a file handle for stat/fstat, and libfuse 2.9 then needs
//    a path, so it answers ENOENT for a file that lost its name. On mounts
//    whose options include hard_remove, the addon also defines
//    fuse_session_process_buf, fuse_reply_open and fuse_reply_create (libfuse
//    calls its own exported functions through the PLT, so these win like
//    fuse_new does). It remembers which file handles are open on which node
//    (from successful OPEN/CREATE replies, forgotten at RELEASE) and turns a
//    GETATTR without a handle, for a node with an open handle, into a GETATTR
//    with one (FUSE_GETATTR_FH), so libfuse calls fgetattr(path or NULL, fi).
//    fchmod/fchown/futimens/f*xattr still need a path in libfuse 2.9 and fail
//    ENOENT on an unlinked file.
//
//  - lock/flock (pfs_fuse_locks.c), the mount registry (pfs_fuse_mounts.c) and
//    cache invalidation (pfs_fuse_notify.c) are other parts of this addon; fuse_new
//    installs lock/flock for mounts whose JS registration asked for them.
//
// Layout: struct fuse_operations and its flag bit-fields come from the libfuse
// 2.9 fuse.h that fuse-shared-library-linux ships (what fuse.node is built
// with): flag_nullpath_ok:1, flag_nopath:1, flag_utime_omit_ok:1,
// flag_reserved:29 after bmap. No system libfuse-dev is needed.

#include "pfs_fuse.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

// Layout of fuse-native 2.2.6's fuse_thread_locals_t up to `path` (LP64):
// napi_ref self; uint32_t op; void *op_fn; const char *path;
#define LOCALS_PATH_OFFSET 24

#define SLOTS 1024
#define KIND_PLAIN 0
#define KIND_CREATE 1
#define KIND_UTIMENS 2

typedef struct {
  const char *key;  // NULL: free
  uint32_t uid, gid, pid, umask;
  int kind;
  int absent_known;        // getxattr: JS marked its ENODATA as valid until forgetCapabilityAbsence()
  int flags;               // create: fi->flags
  struct timespec tv[2];   // utimens: atime, mtime (tv_nsec may be UTIME_NOW/UTIME_OMIT)
} slot_t;

static slot_t slots[SLOTS];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fuse_operations real;  // fuse-native's op pointers (the same for every mount)
// What a NULL path becomes: "" at an address unique to the FUSE thread.
static __thread char null_path[1];
#define NONNULL(p) ((p) != NULL ? (p) : null_path)
// RELEASE only (set in fuse_session_process_buf): no other open of this node has the
// released handle, and it is not 0.
static __thread int cur_release_last;
static int wrapped_mounts = 0;

static int slot_put(const char *key, int kind, int flags, const struct timespec *tv) {
  struct fuse_context *c = fuse_get_context();
  if (key == NULL || c == NULL) return -1;
  pthread_mutex_lock(&slots_mu);
  int idx = -1;
  for (int i = 0; i < SLOTS; i++) {
    if (slots[i].key == NULL) { idx = i; break; }
  }
  if (idx >= 0) {
    slot_t *s = &slots[idx];
    s->key = key;
    s->uid = c->uid;
    s->gid = c->gid;
    s->pid = (uint32_t) c->pid;
    s->umask = c->umask;
    s->kind = kind;
    s->absent_known = 0;
    s->flags = flags;
    if (tv) { s->tv[0] = tv[0]; s->tv[1] = tv[1]; }
  }
  pthread_mutex_unlock(&slots_mu);
  return idx;
}

static void slot_free(int idx) {
  if (idx < 0) return;
  pthread_mutex_lock(&slots_mu);
  slots[idx].key = NULL;
  pthread_mutex_unlock(&slots_mu);
}

#define WRAP(name, params, args) \
  static int tr_##name params { \
    path = NONNULL(path); \
    int s = slot_put(path, KIND_PLAIN, 0, NULL); \
    int r = real.name args; \
    slot_free(s); \
    return r; \
  }

typedef struct fuse_file_info ffi;
WRAP(getattr, (const char *path, struct stat *st), (path, st))
WRAP(fgetattr, (const char *path, struct stat *st, ffi *fi), (path, st, fi))
WRAP(access, (const char *path, int mask), (path, mask))
WRAP(readlink, (const char *path, char *buf, size_t len), (path, buf, len))
WRAP(opendir, (const char *path, ffi *fi), (path, fi))
WRAP(readdir, (const char *path, void *buf, fuse_fill_dir_t fill, off_t off, ffi *fi), (path, buf, fill, off, fi))
WRAP(releasedir, (const char *path, ffi *fi), (path, fi))
WRAP(fsyncdir, (const char *path, int ds, ffi *fi), (path, ds, fi))
WRAP(mknod, (const char *path, mode_t mode, dev_t dev), (path, mode, dev))
WRAP(mkdir, (const char *path, mode_t mode), (path, mode))
WRAP(unlink, (const char *path), (path))
WRAP(rmdir, (const char *path), (path))
WRAP(symlink, (const char *path, const char *to), (path, to))
WRAP(rename, (const char *path, const char *to), (path, to))
WRAP(link, (const char *path, const char *to), (path, to))
WRAP(chmod, (const char *path, mode_t mode), (path, mode))
WRAP(chown, (const char *path, uid_t uid, gid_t gid), (path, uid, gid))
WRAP(truncate, (const char *path, off_t size), (path, size))
WRAP(ftruncate, (const char *path, off_t size, ffi *fi), (path, size, fi))
WRAP(open, (const char *path, ffi *fi), (path, fi))
WRAP(statfs, (const char *path, struct statvfs *st), (path, st))
WRAP(flush, (const char *path, ffi *fi), (path, fi))
WRAP(fsync, (const char *path, int ds, ffi *fi), (path, ds, fi))
WRAP(setxattr, (const char *path, const char *n, const char *v, size_t sz, int fl), (path, n, v, sz, fl))
// ---- security.capability answered on the FUSE thread -------------------------
//
// Before every write(2) the kernel asks for security.capability (file_remove_privs,
// to drop file capabilities of a modified file): one more round trip into JS per
// write call, which with 1 MiB writes is a tenth of the time. When JS answers
// ENODATA and marks the answer as holding until it says otherwise (it holds a lease
// on the file: markCapabilityAbsent), the node is remembered here under the current
// generation; JS bumps the generation (forgetCapabilityAbsence) whenever such an
// answer may have stopped holding (a lease released, an xattr set or removed here,
// the mount lost), and at every new session. Keyed by session and libfuse node id (a
// node id names one file while the kernel knows it; libfuse does not reuse ids before
// 2^32 lookups).
#define NOCAP_SLOTS 4096
#define NOCAP_NAME "security.capability"
typedef struct { const struct fuse_session *se; uint64_t nodeid; uint64_t gen; } nocap_t;
static nocap_t nocap[NOCAP_SLOTS];
static pthread_mutex_t nocap_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t nocap_gen = 1;
static uint64_t nocap_hits = 0;

static size_t nocap_index(const struct fuse_session *se, uint64_t nodeid) {
  uint64_t h = (nodeid ^ ((uint64_t) (uintptr_t) se >> 4)) * 0x9E3779B97F4A7C15ull;
  return (size_t) (h >> 52) % NOCAP_SLOTS;
}

static int nocap_known(const struct fuse_session *se, uint64_t nodeid) {
  if (se == NULL || nodeid == 0) return 0;
  pthread_mutex_lock(&nocap_mu);
  nocap_t *e = &nocap[nocap_index(se, nodeid)];
  int known = e->se == se && e->nodeid == nodeid && e->gen == nocap_gen;
  if (known) nocap_hits++;
  pthread_mutex_unlock(&nocap_mu);
  return known;
}

// gen: the generation read before JS was asked (a forget meanwhile makes the entry stale at once).
static void nocap_put(const struct fuse_session *se, uint64_t nodeid, uint64_t gen) {
  if (se == NULL || nodeid == 0) return;
  pthread_mutex_lock(&nocap_mu);
  nocap_t *e = &nocap[nocap_index(se, nodeid)];  // a collision replaces the older entry
  e->se = se;
  e->nodeid = nodeid;
  e->gen = gen;
  pthread_mutex_unlock(&nocap_mu);
}

static int tr_getxattr(const char *path, const char *n, char *v, size_t sz) {
  path = NONNULL(path);
  int cap = n != NULL && strcmp(n, NOCAP_NAME) == 0;
  const struct fuse_session *se = cur_se;
  uint64_t nodeid = cur_nodeid;
  if (cap && nocap_known(se, nodeid)) return -ENODATA;
  pthread_mutex_lock(&nocap_mu);
  uint64_t gen = nocap_gen;
  pthread_mutex_unlock(&nocap_mu);
  int s = slot_put(path, KIND_PLAIN, 0, NULL);
  int r = real.getxattr(path, n, v, sz);
  if (s >= 0) {
    pthread_mutex_lock(&slots_mu);
    int absent_known = slots[s].absent_known;
    pthread_mutex_unlock(&slots_mu);
    if (cap && r == -ENODATA && absent_known) nocap_put(se, nodeid, gen);
  }
  slot_free(s);
  return r;
}

WRAP(listxattr, (const char *path, char *l, size_t sz), (path, l, sz))
WRAP(removexattr, (const char *path, const char *n), (path, n))

static int tr_create(const char *path, mode_t mode, ffi *fi) {
  path = NONNULL(path);
  int s = slot_put(path, KIND_CREATE, fi ? fi->flags : 0, NULL);
  int r = real.create(path, mode, fi);
  slot_free(s);
  return r;
}

static int tr_utimens(const char *path, const struct timespec tv[2]) {
  path = NONNULL(path);
  int s = slot_put(path, KIND_UTIMENS, 0, tv);
  int r = real.utimens(path, tv);
  slot_free(s);
  return r;
}

// release: a file description that used flock releases its flock locks first
// (libfuse 2.9 only sets fi->flock_release), and its open file description
// (OFD) POSIX locks (the kernel sends nothing for them); see pfs_fuse_locks.c.
static int tr_release(const char *path, ffi *fi) {
  path = NONNULL(path);
  int s = slot_put(path, KIND_PLAIN, 0, NULL);
  pfs_release_flock(path, fi);
  if (cur_release_last) pfs_release_locks(path, fi);
  int r = real.release(path, fi);
  slot_free(s);
  return r;
}

// read/write: only the NULL-path fix (no context slot on the hot path).
static int tr_read(const char *path, char *buf, size_t len, off_t off, ffi *fi) {
  return real.read(NONNULL(path), buf, len, off, fi);
}

static int tr_write(const char *path, const char *buf, size_t len, off_t off, ffi *fi) {
  return real.write(NONNULL(path), buf, len, off, fi);
}

// ---- hard_remove: GETATTR without a handle on an open node gets one ------
//
// FUSE kernel ABI (fuse_kernel.h, stable): request header and two bodies.
struct k_in_header { uint32_t len, opcode; uint64_t unique, nodeid; uint32_t uid, gid, pid, padding; };
struct k_getattr_in { uint32_t getattr_flags, dummy; uint64_t fh; };
struct k_release_in { uint64_t fh; uint32_t flags, release_flags; uint64_t lock_owner; };
#define K_GETATTR_FH (1u << 0)
#define K_RELEASE_FLUSH (1u << 0)
#define K_RELEASE_FLOCK_UNLOCK (1u << 1)

#define MAX_FH_SESSIONS 64
#define OPEN_BUCKETS 4096

typedef struct open_node {
  struct open_node *next;
  const struct fuse_session *se;
  uint64_t nodeid;
  size_t n, cap;
  uint64_t *fh;  // the open handles of this node (libfuse's fi->fh: the JS fd)
} open_node_t;

// Sessions whose open handles are tracked: hard_remove mounts (getattr_fh: the
// GETATTR rewrite) and mounts with lock handlers (the OFD-lock release, below).
typedef struct {
  const struct fuse_session *se;
  int getattr_fh;
} tracked_session_t;

static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static tracked_session_t fh_sessions[MAX_FH_SESSIONS];
static open_node_t *open_nodes[OPEN_BUCKETS];
static uint64_t getattr_rewrites = 0;

// The request this FUSE thread is processing (set around fuse_session_process_buf; pfs_fuse.h).
__thread const struct fuse_session *cur_se;
__thread uint32_t cur_opcode;
__thread uint64_t cur_nodeid;

static size_t open_bucket(const struct fuse_session *se, uint64_t nodeid) {
  uint64_t h = nodeid * 0x9E3779B97F4A7C15ull ^ (uint64_t) (uintptr_t) se;
  return (size_t) (h >> 20) % OPEN_BUCKETS;
}

// Callers hold open_mu. The session's entry, or NULL when its opens are not tracked.
static tracked_session_t *is_fh_session(const struct fuse_session *se) {
  for (int i = 0; i < MAX_FH_SESSIONS; i++) if (fh_sessions[i].se == se) return &fh_sessions[i];
  return NULL;
}

static open_node_t **open_find(const struct fuse_session *se, uint64_t nodeid) {
  open_node_t **pp = &open_nodes[open_bucket(se, nodeid)];
  while (*pp && !((*pp)->se == se && (*pp)->nodeid == nodeid)) pp = &(*pp)->next;
  return pp;
}

static void open_add(const struct fuse_session *se, uint64_t nodeid, uint64_t fh) {
  pthread_mutex_lock(&open_mu);
  if (is_fh_session(se)) {
    open_node_t **pp = open_find(se, nodeid);
    open_node_t *n = *pp;
    if (n == NULL && (n = calloc(1, sizeof *n)) != NULL) {
      n->se = se;
      n->nodeid = nodeid;
      *pp = n;
    }
    if (n != NULL && n->n == n->cap) {
      size_t cap = n->cap ? n->cap * 2 : 2;
      uint64_t *fh2 = realloc(n->fh, cap * sizeof *fh2);
      if (fh2) { n->fh = fh2; n->cap = cap; }
    }
    if (n != NULL && n->n < n->cap) n->fh[n->n++] = fh;
  }
  pthread_mutex_unlock(&open_mu);
}

static void open_remove(const struct fuse_session *se, uint64_t nodeid, uint64_t fh) {
  pthread_mutex_lock(&open_mu);
  open_node_t **pp = open_find(se, nodeid);
  open_node_t *n = *pp;
  if (n != NULL) {
    for (size_t i = 0; i < n->n; i++) {
      if (n->fh[i] == fh) { n->fh[i] = n->fh[--n->n]; break; }
    }
    if (n->n == 0) {
      *pp = n->next;
      free(n->fh);
      free(n);
    }
  }
  pthread_mutex_unlock(&open_mu);
}

// Some open handle of the node, or 0 (0 is never recorded: fuse-native leaves fh 0 for "no handle").
static uint64_t open_any(const struct fuse_session *se, uint64_t nodeid) {
  uint64_t fh = 0;
  pthread_mutex_lock(&open_mu);
  tracked_session_t *t = is_fh_session(se);
  if (t != NULL && t->getattr_fh) {
    open_node_t *n = *open_find(se, nodeid);
    if (n != NULL && n->n > 0) fh = n->fh[n->n - 1];
  }
  pthread_mutex_unlock(&open_mu);
  return fh;
}

// True when a tracked session has no open of the node with handle fh (any more).
static int open_last(const struct fuse_session *se, uint64_t nodeid, uint64_t fh) {
  int last = 0;
  pthread_mutex_lock(&open_mu);
  if (fh != 0 && is_fh_session(se)) {
    last = 1;
    open_node_t *n = *open_find(se, nodeid);
    for (size_t i = 0; n != NULL && i < n->n; i++) if (n->fh[i] == fh) last = 0;
  }
  pthread_mutex_unlock(&open_mu);
  return last;
}

// A new mount: drop what a dead session at the same address left, and mark it.
static void session_register(const struct fuse_session *se, int getattr_fh, int track) {
  pthread_mutex_lock(&open_mu);
  for (size_t b = 0; b < OPEN_BUCKETS; b++) {
    open_node_t **pp = &open_nodes[b];
    while (*pp) {
      open_node_t *n = *pp;
      if (n->se == se) { *pp = n->next; free(n->fh); free(n); }
      else pp = &n->next;
    }
  }
  int slot = -1;
  for (int i = 0; i < MAX_FH_SESSIONS; i++) {
    if (fh_sessions[i].se == se) fh_sessions[i].se = NULL;
    if (slot < 0 && fh_sessions[i].se == NULL) slot = i;
  }
  if ((getattr_fh || track) && slot >= 0) {
    fh_sessions[slot].se = se;
    fh_sessions[slot].getattr_fh = getattr_fh;
  }
  pthread_mutex_unlock(&open_mu);
}

// True when the libfuse arguments ask for hard_remove (fuse-native passes "-o<a>,<b>,...").
static int args_hard_remove(const struct fuse_args *args) {
  if (args == NULL) return 0;
  for (int i = 0; i < args->argc; i++) {
    const char *a = args->argv[i];
    if (a == NULL) continue;
    if (strncmp(a, "-o", 2) == 0) a += 2;
    for (const char *p = a; *p; ) {
      const char *e = strchr(p, ',');
      size_t len = e ? (size_t) (e - p) : strlen(p);
      if (len == 11 && strncmp(p, "hard_remove", 11) == 0) return 1;
      if (!e) break;
      p = e + 1;
    }
  }
  return 0;
}

typedef void (*process_buf_fn)(struct fuse_session *, const struct fuse_buf *, struct fuse_chan *);
typedef int (*reply_open_fn)(fuse_req_t, const struct fuse_file_info *);
typedef int (*reply_create_fn)(fuse_req_t, const struct fuse_entry_param *, const struct fuse_file_info *);

void fuse_session_process_buf(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch) {
  static process_buf_fn next = NULL;
  if (next == NULL) next = (process_buf_fn) dlvsym(RTLD_NEXT, "fuse_session_process_buf", "FUSE_2.9");
  if (next == NULL) abort();  // cannot happen with libfuse 2.9 (this symbol is why we are called)

  struct k_in_header *in = NULL;
  cur_release_last = 0;
  if (buf != NULL && !(buf->flags & FUSE_BUF_IS_FD) && buf->mem != NULL && buf->size >= sizeof *in) {
    in = (struct k_in_header *) buf->mem;
    if (in->len > buf->size) in = NULL;
  }
  if (in != NULL && in->opcode == K_GETATTR && in->len >= sizeof *in + sizeof(struct k_getattr_in)) {
    struct k_getattr_in *g = (struct k_getattr_in *) (in + 1);
    if (!(g->getattr_flags & K_GETATTR_FH)) {
      uint64_t fh = open_any(se, in->nodeid);
      if (fh != 0) {
        g->getattr_flags |= K_GETATTR_FH;
        g->fh = fh;
        __atomic_add_fetch(&getattr_rewrites, 1, __ATOMIC_RELAXED);
      }
    }
  } else if (in != NULL && in->opcode == K_RELEASE && in->len >= sizeof *in + sizeof(struct k_release_in)) {
    struct k_release_in *rel = (struct k_release_in *) (in + 1);
    // Forget the handle first: no GETATTR may pick it once its release has started.
    open_remove(se, in->nodeid, rel->fh);
    // An open file description lock owner (F_OFD_SETLK) gets no unlock from the kernel:
    // at the last release of the handle, ask libfuse for its flush-time unlock of that
    // owner (pfs_fuse_locks.c). Only the last: handles need not be unique, and a POSIX
    // owner that locked through the same handle value has flushed only when it closed.
    uint64_t owner;
    cur_release_last = open_last(se, in->nodeid, rel->fh);
    if (cur_release_last && !(rel->release_flags & K_RELEASE_FLUSH) && pfs_lock_owner_for_fh(se, in->nodeid, rel->fh, &owner) &&
        (!(rel->release_flags & K_RELEASE_FLOCK_UNLOCK) || rel->lock_owner == owner)) {
      rel->release_flags |= K_RELEASE_FLUSH;
      rel->lock_owner = owner;
    }
  }

  const struct fuse_session *prev_se = cur_se;
  uint32_t prev_op = cur_opcode;
  uint64_t prev_node = cur_nodeid;
  cur_se = se;
  cur_opcode = in ? in->opcode : 0;
  // INIT: fuse_init_in starts with major, minor (pfs_fuse_pages.c extends the reply).
  cur_init_minor = in && in->opcode == K_INIT && in->len >= sizeof *in + 2 * sizeof(uint32_t) ? ((const uint32_t *) (in + 1))[1] : 0;
  cur_nodeid = in ? in->nodeid : 0;
  next(se, buf, ch);
  cur_se = prev_se;
  cur_opcode = prev_op;
  cur_nodeid = prev_node;
}

int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi) {
  static reply_open_fn next = NULL;
  if (next == NULL) next = (reply_open_fn) dlvsym(RTLD_NEXT, "fuse_reply_open", "FUSE_2.5");
  if (next == NULL) abort();
  int r = next(req, fi);
  // Also called for OPENDIR (handle = libfuse's dir handle): only files count.
  if (r == 0 && fi != NULL && fi->fh != 0 && cur_se != NULL && cur_opcode == K_OPEN) open_add(cur_se, cur_nodeid, fi->fh);
  return r;
}

int fuse_reply_create(fuse_req_t req, const struct fuse_entry_param *e, const struct fuse_file_info *fi) {
  static reply_create_fn next = NULL;
  if (next == NULL) next = (reply_create_fn) dlvsym(RTLD_NEXT, "fuse_reply_create", "FUSE_2.5");
  if (next == NULL) abort();
  int r = next(req, e, fi);
  if (r == 0 && e != NULL && fi != NULL && fi->fh != 0 && cur_se != NULL && cur_opcode == K_CREATE) open_add(cur_se, e->ino, fi->fh);
  return r;
}

typedef struct fuse *(*fuse_new_fn)(struct fuse_chan *, struct fuse_args *, const struct fuse_operations *, size_t, void *);

// Remember fuse-native's pointer for one op and install the trampoline; refuse
// (return 0) if another mount brought a different pointer for the same op.
#define TAKE(name) \
  if (op->name) { \
    if (real.name && real.name != op->name) return 0; \
    real.name = op->name; \
    w->name = tr_##name; \
  }

// True when every op that takes a path and that fuse-native set is now a
// trampoline (init and destroy take none). A table with an op we do not know
// is refused whole: flag_nullpath_ok must never reach an unwrapped op.
static int all_wrapped(const struct fuse_operations *op, const struct fuse_operations *w) {
  const size_t ranges[2][2] = {
    { 0, offsetof(struct fuse_operations, bmap) + sizeof op->bmap },
    { offsetof(struct fuse_operations, ioctl), sizeof *op },
  };
  for (int r = 0; r < 2; r++) {
    for (size_t off = ranges[r][0]; off + sizeof(void *) <= ranges[r][1]; off += sizeof(void *)) {
      if (off == offsetof(struct fuse_operations, init) || off == offsetof(struct fuse_operations, destroy)) continue;
      void *a, *b;
      memcpy(&a, (const char *) op + off, sizeof a);
      memcpy(&b, (const char *) w + off, sizeof b);
      if (a != NULL && a == b) return 0;
    }
  }
  return 1;
}

static int wrap_ops(const struct fuse_operations *op, struct fuse_operations *w) {
  TAKE(getattr) TAKE(fgetattr) TAKE(access) TAKE(readlink) TAKE(opendir) TAKE(readdir)
  TAKE(releasedir) TAKE(fsyncdir) TAKE(mknod) TAKE(mkdir) TAKE(unlink) TAKE(rmdir)
  TAKE(symlink) TAKE(rename) TAKE(link) TAKE(chmod) TAKE(chown) TAKE(truncate)
  TAKE(ftruncate) TAKE(open) TAKE(statfs) TAKE(flush) TAKE(release) TAKE(fsync)
  TAKE(setxattr) TAKE(getxattr) TAKE(listxattr) TAKE(removexattr) TAKE(create) TAKE(utimens)
  TAKE(read) TAKE(write)
  if (!all_wrapped(op, w)) return 0;
  w->flag_utime_omit_ok = 1;
  w->flag_nullpath_ok = 1;
  w->flag_nopath = 0;
  return 1;
}

struct fuse *fuse_new(struct fuse_chan *ch, struct fuse_args *args, const struct fuse_operations *op, size_t op_size, void *user_data) {
  static fuse_new_fn next = NULL;
  if (next == NULL) next = (fuse_new_fn) dlvsym(RTLD_NEXT, "fuse_new", "FUSE_2.6");
  if (next == NULL) return NULL;
  if (op == NULL || op_size != sizeof(struct fuse_operations)) return next(ch, args, op, op_size, user_data);

  // The JS registration for this mount point (pfs_fuse_mounts.c): lock/flock handlers.
  unsigned want = 0, installed = 0;
  int mount_id = pfs_mount_for_chan(ch, &want);
  // libfuse copies the table, so one static copy per call is enough while we hold the lock.
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  struct fuse_operations w;
  pthread_mutex_lock(&mu);
  memcpy(&w, op, sizeof w);
  int ok = wrap_ops(op, &w);
  if (ok) wrapped_mounts++;
  pthread_mutex_unlock(&mu);
  // Non-NULL lock/flock make libfuse advertise FUSE_CAP_POSIX_LOCKS/FLOCK_LOCKS at INIT.
  if (ok && (want & PFS_WANT_LOCK)) { w.lock = pfs_tr_lock; installed |= PFS_WANT_LOCK; }
  if (ok && (want & PFS_WANT_FLOCK)) { w.flock = pfs_tr_flock; installed |= PFS_WANT_FLOCK; }
  // Read before fuse_new: it removes the library options it consumes from args.
  // Only a wrapped table has flag_nullpath_ok, so only then may fgetattr get NULL.
  int fh_getattr = ok && args_hard_remove(args);
  struct fuse *f = next(ch, args, ok ? &w : op, op_size, user_data);
  if (f != NULL) {
    // A new session may reuse a dead one's address, and libfuse node ids start over: nothing
    // remembered about security.capability may carry over.
    pthread_mutex_lock(&nocap_mu);
    nocap_gen++;
    pthread_mutex_unlock(&nocap_mu);
    session_register(fuse_get_session(f), fh_getattr, (installed & PFS_WANT_LOCK) != 0);
    pfs_locks_session_reset(fuse_get_session(f));
    if (mount_id) pfs_mount_started(mount_id, f, ch, installed, ok);
  }
  return f;
}

// JS: lookup(threadLocals: Buffer) -> null | [uid, gid, pid, umask, kind, flags, aSec, aNsec, mSec, mNsec]
static napi_value lookup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], nul;
  napi_get_null(env, &nul);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return nul;
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len < LOCALS_PATH_OFFSET + sizeof(char *)) return nul;
  const char *key;
  memcpy(&key, (char *) data + LOCALS_PATH_OFFSET, sizeof key);
  if (key == NULL) return nul;

  slot_t copy;
  int found = 0;
  pthread_mutex_lock(&slots_mu);
  for (int i = 0; i < SLOTS; i++) {
    if (slots[i].key == key) { copy = slots[i]; found = 1; break; }
  }
  pthread_mutex_unlock(&slots_mu);
  if (!found) return nul;

  double vals[10] = {
    copy.uid, copy.gid, copy.pid, copy.umask, copy.kind, copy.flags,
    (double) copy.tv[0].tv_sec, (double) copy.tv[0].tv_nsec,
    (double) copy.tv[1].tv_sec, (double) copy.tv[1].tv_nsec,
  };
  if (copy.kind != KIND_UTIMENS) for (int i = 6; i < 10; i++) vals[i] = 0;
  napi_value arr;
  napi_create_array_with_length(env, 10, &arr);
  for (uint32_t i = 0; i < 10; i++) {
    napi_value v;
    napi_create_double(env, vals[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

// JS: markCapabilityAbsent(threadLocals: Buffer) -> bool. Called by a getxattr handler of
// security.capability before it answers ENODATA: that answer holds until the next
// forgetCapabilityAbsence(), so later requests for the node are answered here.
static napi_value mark_absent(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int found = 0;
  void *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1 &&
      napi_get_buffer_info(env, argv[0], &data, &len) == napi_ok && len >= LOCALS_PATH_OFFSET + sizeof(char *)) {
    const char *key;
    memcpy(&key, (char *) data + LOCALS_PATH_OFFSET, sizeof key);
    pthread_mutex_lock(&slots_mu);
    for (int i = 0; key != NULL && i < SLOTS; i++) {
      if (slots[i].key == key) { slots[i].absent_known = 1; found = 1; break; }
    }
    pthread_mutex_unlock(&slots_mu);
  }
  napi_get_boolean(env, found, &out);
  return out;
}

// JS: forgetCapabilityAbsence(): every remembered ENODATA for security.capability goes.
static napi_value forget_absent(napi_env env, napi_callback_info info) {
  pthread_mutex_lock(&nocap_mu);
  nocap_gen++;
  pthread_mutex_unlock(&nocap_mu);
  return NULL;
}

// JS: capabilityAnswers() -> how many getxattr(security.capability) were answered here.
static napi_value absent_hits(napi_env env, napi_callback_info info) {
  napi_value v;
  pthread_mutex_lock(&nocap_mu);
  double hits = (double) nocap_hits;
  pthread_mutex_unlock(&nocap_mu);
  napi_create_double(env, hits, &v);
  return v;
}

// JS: getattrRewrites() -> how many GETATTRs got an open file handle added (hard_remove mounts).
static napi_value rewrites(napi_env env, napi_callback_info info) {
  napi_value v;
  napi_create_double(env, (double) __atomic_load_n(&getattr_rewrites, __ATOMIC_RELAXED), &v);
  return v;
}

// JS: wrappedMounts() -> how many fuse_new calls went through this shim.
static napi_value wrapped(napi_env env, napi_callback_info info) {
  napi_value v;
  napi_create_int32(env, wrapped_mounts, &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor fns[] = {
    { "lookup", NULL, lookup, NULL, NULL, NULL, napi_default, NULL },
    { "wrappedMounts", NULL, wrapped, NULL, NULL, NULL, napi_default, NULL },
    { "getattrRewrites", NULL, rewrites, NULL, NULL, NULL, napi_default, NULL },
    { "markCapabilityAbsent", NULL, mark_absent, NULL, NULL, NULL, napi_default, NULL },
    { "forgetCapabilityAbsence", NULL, forget_absent, NULL, NULL, NULL, napi_default, NULL },
    { "capabilityAnswers", NULL, absent_hits, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  napi_value v;
  napi_create_uint32(env, UTIME_NOW, &v);
  napi_set_named_property(env, exports, "UTIME_NOW", v);
  napi_create_uint32(env, UTIME_OMIT, &v);
  napi_set_named_property(env, exports, "UTIME_OMIT", v);
  // This build sets flag_nullpath_ok and turns NULL paths into "" (hard_remove is safe).
  napi_get_boolean(env, true, &v);
  napi_set_named_property(env, exports, "nullPathOk", v);
  // This build has the mount registry, lock/flock dispatch and cache invalidation.
  napi_set_named_property(env, exports, "locksAndNotify", v);
  // This build negotiates requests above 128 KiB (pfs_fuse_pages.c; registerMount's requestBytes).
  napi_set_named_property(env, exports, "largeRequests", v);
  if (pfs_mounts_init(env, exports) != napi_ok || pfs_dispatch_init(env, exports) != napi_ok || pfs_notify_init(env, exports) != napi_ok) {
    napi_throw_error(env, NULL, "pfs_fuse_context: init failed");
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
