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
// fuse-native's op returns. read and write are not wrapped (hot path).
//
// It also sets flag_utime_omit_ok, so utimens receives UTIME_NOW/UTIME_OMIT
// instead of libfuse silently ignoring a change of only atime or only mtime.

#define _GNU_SOURCE
#define FUSE_USE_VERSION 29
#include <fuse.h>
#include <node_api.h>
#include <dlfcn.h>
#include <pthread.h>
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
  int flags;               // create: fi->flags
  struct timespec tv[2];   // utimens: atime, mtime (tv_nsec may be UTIME_NOW/UTIME_OMIT)
} slot_t;

static slot_t slots[SLOTS];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fuse_operations real;  // fuse-native's op pointers (the same for every mount)
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
WRAP(release, (const char *path, ffi *fi), (path, fi))
WRAP(fsync, (const char *path, int ds, ffi *fi), (path, ds, fi))
WRAP(setxattr, (const char *path, const char *n, const char *v, size_t sz, int fl), (path, n, v, sz, fl))
WRAP(getxattr, (const char *path, const char *n, char *v, size_t sz), (path, n, v, sz))
WRAP(listxattr, (const char *path, char *l, size_t sz), (path, l, sz))
WRAP(removexattr, (const char *path, const char *n), (path, n))

static int tr_create(const char *path, mode_t mode, ffi *fi) {
  int s = slot_put(path, KIND_CREATE, fi ? fi->flags : 0, NULL);
  int r = real.create(path, mode, fi);
  slot_free(s);
  return r;
}

static int tr_utimens(const char *path, const struct timespec tv[2]) {
  int s = slot_put(path, KIND_UTIMENS, 0, tv);
  int r = real.utimens(path, tv);
  slot_free(s);
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

static int wrap_ops(const struct fuse_operations *op, struct fuse_operations *w) {
  TAKE(getattr) TAKE(fgetattr) TAKE(access) TAKE(readlink) TAKE(opendir) TAKE(readdir)
  TAKE(releasedir) TAKE(fsyncdir) TAKE(mknod) TAKE(mkdir) TAKE(unlink) TAKE(rmdir)
  TAKE(symlink) TAKE(rename) TAKE(link) TAKE(chmod) TAKE(chown) TAKE(truncate)
  TAKE(ftruncate) TAKE(open) TAKE(statfs) TAKE(flush) TAKE(release) TAKE(fsync)
  TAKE(setxattr) TAKE(getxattr) TAKE(listxattr) TAKE(removexattr) TAKE(create) TAKE(utimens)
  w->flag_utime_omit_ok = 1;
  return 1;
}

struct fuse *fuse_new(struct fuse_chan *ch, struct fuse_args *args, const struct fuse_operations *op, size_t op_size, void *user_data) {
  static fuse_new_fn next = NULL;
  if (next == NULL) next = (fuse_new_fn) dlvsym(RTLD_NEXT, "fuse_new", "FUSE_2.6");
  if (next == NULL) return NULL;
  if (op == NULL || op_size != sizeof(struct fuse_operations)) return next(ch, args, op, op_size, user_data);

  // libfuse copies the table, so one static copy per call is enough while we hold the lock.
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  struct fuse_operations w;
  pthread_mutex_lock(&mu);
  memcpy(&w, op, sizeof w);
  int ok = wrap_ops(op, &w);
  if (ok) wrapped_mounts++;
  pthread_mutex_unlock(&mu);
  return next(ch, args, ok ? &w : op, op_size, user_data);
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

// JS: wrappedMounts() -> how many fuse_new calls went through this shim.
static napi_value wrapped(napi_env env, napi_callback_info info) {
  napi_value v;
  napi_create_int32(env, wrapped_mounts, &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "lookup", NAPI_AUTO_LENGTH, lookup, NULL, &fn);
  napi_set_named_property(env, exports, "lookup", fn);
  napi_create_function(env, "wrappedMounts", NAPI_AUTO_LENGTH, wrapped, NULL, &fn);
  napi_set_named_property(env, exports, "wrappedMounts", fn);
  napi_value v;
  napi_create_uint32(env, UTIME_NOW, &v);
  napi_set_named_property(env, exports, "UTIME_NOW", v);
  napi_create_uint32(env, UTIME_OMIT, &v);
  napi_set_named_property(env, exports, "UTIME_OMIT", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
