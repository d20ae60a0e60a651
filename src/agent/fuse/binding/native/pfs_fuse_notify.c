// Kernel cache invalidation for a fuse-native (libfuse 2.9 high-level) mount.
//
// The kernel takes FUSE_NOTIFY_INVAL_INODE (node id, offset, length) and
// FUSE_NOTIFY_INVAL_ENTRY (parent node id, name) as writes on /dev/fuse.
// High-level libfuse names nodes by path and keeps its node ids to itself
// (libfuse 2.9 exports no path -> node id lookup; fuse_invalidate() is a stub
// answering -EINVAL). The kernel knows them, though: FUSE's export operations
// encode a file handle as {nodeid >> 32, nodeid & 0xffffffff, generation}
// (fuse_encode_fh, handle type 0x81, 12 bytes), and name_to_handle_at(2) returns
// it for a path on the mount without any FUSE request when the dentries are
// cached. A path that is not cached makes the kernel send LOOKUPs, which the
// JS thread answers; so this runs on its own thread, never on the JS thread.
//
// Each call gets a detached thread: resolve the node id, then write the
// notification to the mount's own dup of the /dev/fuse descriptor (the mount
// registry closes it once the session has ended and no notification uses it).
// The kernel may block the write: INVAL_ENTRY takes the parent directory's
// inode lock (held while a LOOKUP, CREATE, MKDIR, UNLINK, RENAME, READDIR... in
// that directory waits for the filesystem), INVAL_INODE locks the pages it
// drops (held while a READ of them waits for the filesystem). The thread waits;
// the JS thread keeps answering, so it ends. Completion is posted to JS
// (EV_NOTIFY_DONE: code 0 or -errno, found = the kernel had it cached).
// Sanity checks: the root must resolve to node id 1 (FUSE_ROOT_ID) with handle
// type 0x81, and every path must be on the same mount (mount id) as the root.

#include "pfs_fuse.h"
#include <errno.h>
#include <fcntl.h>
#include <fuse_kernel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define FUSE_FH_TYPE 0x81   // kernel fs/fuse/inode.c fuse_encode_fh (FILEID_INO64_GEN), no parent
#define FUSE_FH_BYTES 12
#define KIND_INODE 0
#define KIND_ENTRY 1

typedef struct {
  int mount_id;
  int kind;
  char *path;   // inode: the file; entry: the parent directory (both relative to the mount, starting with '/')
  char *name;   // entry only
  int64_t off, len;
  double req_id;
} job_t;

static int resolve(const char *path, uint64_t *nodeid, int *mnt_id) {
  struct {
    struct file_handle h;
    unsigned char bytes[MAX_HANDLE_SZ];
  } fh;
  fh.h.handle_bytes = MAX_HANDLE_SZ;
  if (name_to_handle_at(AT_FDCWD, path, &fh.h, mnt_id, 0) != 0) return -errno;
  if (fh.h.handle_type != FUSE_FH_TYPE || fh.h.handle_bytes != FUSE_FH_BYTES) return -ENOTSUP;
  uint32_t w[3];
  memcpy(w, fh.h.f_handle, sizeof w);
  *nodeid = ((uint64_t) w[0] << 32) | w[1];
  return 0;
}

static int send_notify(int fd, int code, const void *body, size_t body_len, const char *name, size_t name_len) {
  struct fuse_out_header oh;
  struct iovec iov[3];
  int n = 2;
  oh.unique = 0;
  oh.error = code;
  iov[0].iov_base = &oh;
  iov[0].iov_len = sizeof oh;
  iov[1].iov_base = (void *) body;
  iov[1].iov_len = body_len;
  if (name != NULL) {
    iov[2].iov_base = (void *) name;
    iov[2].iov_len = name_len + 1;  // the kernel wants the terminating NUL
    n = 3;
  }
  oh.len = (uint32_t) (sizeof oh + body_len + (name ? name_len + 1 : 0));
  ssize_t w;
  do w = writev(fd, iov, n); while (w < 0 && errno == EINTR);
  return w < 0 ? -errno : 0;
}

static int run(job_t *j, int *found) {
  char mnt[1024], full[4096];
  int root_mnt_id = -1, new_root_mnt_id = -1, mnt_id, err;
  uint64_t nodeid;
  int fd = pfs_mount_acquire(j->mount_id, mnt, sizeof mnt, &root_mnt_id);
  if (fd < 0) return fd;
  if (root_mnt_id < 0) {
    err = resolve(mnt, &nodeid, &mnt_id);
    if (err == 0 && nodeid != FUSE_ROOT_ID) err = -ENOTSUP;
    if (err != 0) goto out;
    root_mnt_id = new_root_mnt_id = mnt_id;
  }
  if ((size_t) snprintf(full, sizeof full, "%s%s", mnt, strcmp(j->path, "/") == 0 ? "" : j->path) >= sizeof full) {
    err = -ENAMETOOLONG;
    goto out;
  }
  err = resolve(full, &nodeid, &mnt_id);
  if (err == -ENOENT && j->kind == KIND_INODE) { err = 0; goto out; }  // no such name: nothing cached
  if (err == 0 && mnt_id != root_mnt_id) err = -EXDEV;                // left the mount (symlink, mount on top)
  if (err != 0) goto out;
  if (j->kind == KIND_INODE) {
    struct fuse_notify_inval_inode_out o = { .ino = nodeid, .off = j->off, .len = j->len };
    err = send_notify(fd, FUSE_NOTIFY_INVAL_INODE, &o, sizeof o, NULL, 0);
  } else {
    size_t name_len = strlen(j->name);
    struct fuse_notify_inval_entry_out o = { .parent = nodeid, .namelen = (uint32_t) name_len };
    err = send_notify(fd, FUSE_NOTIFY_INVAL_ENTRY, &o, sizeof o, j->name, name_len);
  }
  if (err == 0) *found = 1;
  else if (err == -ENOENT) err = 0;  // the kernel had nothing cached under that node/name
out:
  pfs_mount_release(j->mount_id, new_root_mnt_id);
  return err;
}

static void *worker(void *arg) {
  job_t *j = arg;
  int found = 0;
  int err = run(j, &found);
  pfs_post_event(EV_NOTIFY_DONE, j->req_id, j->mount_id, err, found);
  free(j->path);
  free(j->name);
  free(j);
  return NULL;
}

static char *get_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s != NULL && napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) { free(s); s = NULL; }
  return s;
}

// JS: invalidate(mountId, kind, path, name|null, offset, length, requestId) -> 0 or -errno (not started).
// The result arrives later as dispatcher(EV_NOTIFY_DONE, requestId, mountId, code, found).
static napi_value invalidate(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7], out;
  int32_t mount_id, kind;
  double off, len, req_id;
  int err = -EINVAL;
  job_t *j = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 7 &&
      napi_get_value_int32(env, argv[0], &mount_id) == napi_ok && napi_get_value_int32(env, argv[1], &kind) == napi_ok &&
      napi_get_value_double(env, argv[4], &off) == napi_ok && napi_get_value_double(env, argv[5], &len) == napi_ok &&
      napi_get_value_double(env, argv[6], &req_id) == napi_ok && (j = calloc(1, sizeof *j)) != NULL) {
    j->mount_id = mount_id;
    j->kind = kind;
    j->off = (int64_t) off;
    j->len = (int64_t) len;
    j->req_id = req_id;
    j->path = get_string(env, argv[2]);
    j->name = kind == KIND_ENTRY ? get_string(env, argv[3]) : NULL;
    err = -ENOMEM;
    if (j->path != NULL && (kind == KIND_INODE || j->name != NULL)) {
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      pthread_attr_setstacksize(&attr, 256 * 1024);
      err = -pthread_create(&t, &attr, worker, j);
      pthread_attr_destroy(&attr);
      if (err == 0) j = NULL;
    }
  }
  if (j != NULL) {
    free(j->path);
    free(j->name);
    free(j);
  }
  napi_create_int32(env, err, &out);
  return out;
}

napi_status pfs_notify_init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
    { "invalidate", NULL, invalidate, NULL, NULL, NULL, napi_default, NULL },
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
