// Mount registry: which fuse-native mount is which, and what it asked for.
//
// JS registers a mount point (and whether it has lock/flock handlers) before
// fuse-native mounts it. fuse-native then calls, on the JS thread,
// fuse_mount(mnt, args) and fuse_new(ch, ...): this file defines fuse_mount
// (wins over fuse.node's lazily bound fuse_mount@FUSE_2.6 like fuse_new does)
// and ties the channel it returns to the registration; fuse_new (in
// pfs_fuse_context.c) finds the registration by channel, installs lock/flock
// and reports back here with the struct fuse*, by which lock requests find their
// mount. The /dev/fuse descriptor is dup'ed then, for cache invalidation
// notifications that must not depend on libfuse's channel lifetime.
// fuse_unmount (called by fuse-native's FUSE thread once the session loop has
// ended) marks the mount ended: the dup is closed when no notification uses it.
//
// Close-on-exec: libfuse 2.9's fuse_mount leaves the /dev/fuse descriptor it
// receives from fusermount, and with auto_unmount its socket to the fusermount
// watchdog, inheritable. Every child the agent spawns (auth plug-ins, and the
// tests' children) then holds the FUSE connection open: when the agent dies, a
// child blocked on the mount (a waiting F_SETLKW) keeps the connection alive,
// nobody answers, and neither the child nor auto_unmount can finish. So the
// descriptors fuse_mount opened are marked FD_CLOEXEC (Node opens everything
// else close-on-exec already).

#include "pfs_fuse.h"
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MOUNTS 64

typedef struct {
  int id;                 // 0: free slot
  char mnt[1024];
  unsigned want;          // PFS_WANT_* asked by JS
  unsigned request_bytes; // largest request JS asked for (pfs_fuse_pages.c), 0: libfuse's 128 KiB
  int negotiated;         // -1 until the INIT reply is sent, then the request size it offered above 128 KiB, 0: none
  unsigned installed;     // PFS_WANT_* set in the op table handed to libfuse
  int wrapped;            // fuse_new used our trampoline table
  int started, ended, abandoned;
  struct fuse_chan *ch;
  const struct fuse *fuse;
  int notify_fd;          // dup of the session's /dev/fuse fd, or -1
  int busy;               // notifications in progress with notify_fd
  int root_mnt_id;        // mount id name_to_handle_at reports at the root, -1 unknown
} reg_t;

static reg_t regs[MAX_MOUNTS];
static pthread_mutex_t regs_mu = PTHREAD_MUTEX_INITIALIZER;
static int next_id = 0;

static reg_t *by_id(int id) {
  for (int i = 0; i < MAX_MOUNTS; i++) if (id > 0 && regs[i].id == id) return &regs[i];
  return NULL;
}

// Callers hold regs_mu.
static void maybe_free(reg_t *r) {
  if (r->busy > 0) return;
  if (r->ended || (r->abandoned && !r->started)) {
    if (r->notify_fd >= 0) close(r->notify_fd);
    memset(r, 0, sizeof *r);
    r->notify_fd = -1;
  }
}

#define FD_BITS 65536

// Marks in `set` the open descriptors below FD_BITS (via /proc/self/fd); 0 when unreadable.
static int open_fds(unsigned char *set) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end == '\0' && end != e->d_name && fd >= 0 && fd < FD_BITS) set[fd / 8] |= (unsigned char) (1u << (fd % 8));
  }
  closedir(d);
  return 1;
}

typedef struct fuse_chan *(*fuse_mount_fn)(const char *, struct fuse_args *);
typedef void (*fuse_unmount_fn)(const char *, struct fuse_chan *);

struct fuse_chan *fuse_mount(const char *mountpoint, struct fuse_args *args) {
  static fuse_mount_fn next = NULL;
  if (next == NULL) next = (fuse_mount_fn) dlvsym(RTLD_NEXT, "fuse_mount", "FUSE_2.6");
  if (next == NULL) return NULL;
  unsigned char *before = calloc(2, FD_BITS / 8), *after = before ? before + FD_BITS / 8 : NULL;
  int scanned = before != NULL && open_fds(before);
  struct fuse_chan *ch = next(mountpoint, args);
  if (ch != NULL) fcntl(fuse_chan_fd(ch), F_SETFD, fcntl(fuse_chan_fd(ch), F_GETFD) | FD_CLOEXEC);
  if (ch != NULL && scanned && open_fds(after)) {
    // New since the call: the /dev/fuse fd and (auto_unmount) the watchdog socket, maybe
    // another thread's descriptor; close-on-exec is right for all of them in Node.
    for (int fd = 0; fd < FD_BITS; fd++) {
      if ((after[fd / 8] & ~before[fd / 8]) & (1u << (fd % 8))) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
      }
    }
  }
  free(before);
  if (ch == NULL || mountpoint == NULL) return ch;
  pthread_mutex_lock(&regs_mu);
  reg_t *match = NULL;
  for (int i = 0; i < MAX_MOUNTS; i++) {
    reg_t *r = &regs[i];
    if (r->id == 0) continue;
    if (r->ch == ch && !r->ended) r->ch = NULL;  // a dead channel's address, reused
    if (!r->ch && !r->started && !r->abandoned && strcmp(r->mnt, mountpoint) == 0 && (!match || r->id > match->id)) match = r;
  }
  if (match) match->ch = ch;
  pthread_mutex_unlock(&regs_mu);
  return ch;
}

void fuse_unmount(const char *mountpoint, struct fuse_chan *ch) {
  static fuse_unmount_fn next = NULL;
  if (next == NULL) next = (fuse_unmount_fn) dlvsym(RTLD_NEXT, "fuse_unmount", "FUSE_2.6");
  int ended_id = 0;
  if (ch != NULL) {
    pthread_mutex_lock(&regs_mu);
    for (int i = 0; i < MAX_MOUNTS; i++) {
      reg_t *r = &regs[i];
      if (r->id != 0 && r->ch == ch && r->started && !r->ended) {
        r->ended = 1;
        r->fuse = NULL;
        ended_id = r->id;
        maybe_free(r);
        break;
      }
    }
    pthread_mutex_unlock(&regs_mu);
  }
  if (ended_id) pfs_post_event(EV_MOUNT_ENDED, 0, ended_id, 0, 0);
  if (next != NULL) next(mountpoint, ch);
}

int pfs_mount_for_chan(struct fuse_chan *ch, unsigned *flags) {
  int id = 0;
  *flags = 0;
  pthread_mutex_lock(&regs_mu);
  for (int i = 0; i < MAX_MOUNTS; i++) {
    if (regs[i].id != 0 && regs[i].ch == ch && !regs[i].started) { id = regs[i].id; *flags = regs[i].want; break; }
  }
  pthread_mutex_unlock(&regs_mu);
  return id;
}

void pfs_mount_started(int id, struct fuse *f, struct fuse_chan *ch, unsigned installed, int wrapped) {
  pthread_mutex_lock(&regs_mu);
  for (int i = 0; i < MAX_MOUNTS; i++) {
    if (regs[i].id != 0 && regs[i].fuse == f) regs[i].fuse = NULL;  // a destroyed fuse's address, reused
  }
  reg_t *r = by_id(id);
  if (r != NULL) {
    r->started = 1;
    r->fuse = f;
    r->installed = installed;
    r->wrapped = wrapped;
    r->notify_fd = fcntl(fuse_chan_fd(ch), F_DUPFD_CLOEXEC, 3);
  }
  pthread_mutex_unlock(&regs_mu);
}

size_t pfs_mount_request_bytes(struct fuse_chan *ch) {
  size_t bytes = 0;
  pthread_mutex_lock(&regs_mu);
  for (int i = 0; i < MAX_MOUNTS; i++) {
    if (regs[i].id != 0 && regs[i].ch == ch && !regs[i].ended) { bytes = regs[i].request_bytes; break; }
  }
  pthread_mutex_unlock(&regs_mu);
  return bytes;
}

void pfs_mount_negotiated(struct fuse_chan *ch, int bytes) {
  pthread_mutex_lock(&regs_mu);
  for (int i = 0; i < MAX_MOUNTS; i++) {
    if (regs[i].id != 0 && regs[i].ch == ch && !regs[i].ended) { regs[i].negotiated = bytes; break; }
  }
  pthread_mutex_unlock(&regs_mu);
}

int pfs_mount_for_fuse(const struct fuse *f, unsigned *installed) {
  int id = 0;
  *installed = 0;
  if (f == NULL) return 0;
  pthread_mutex_lock(&regs_mu);
  for (int i = 0; i < MAX_MOUNTS; i++) {
    if (regs[i].id != 0 && regs[i].fuse == f) { id = regs[i].id; *installed = regs[i].installed; break; }
  }
  pthread_mutex_unlock(&regs_mu);
  return id;
}

int pfs_mount_acquire(int id, char *mnt, size_t mnt_len, int *root_mnt_id) {
  int fd;
  pthread_mutex_lock(&regs_mu);
  reg_t *r = by_id(id);
  if (r == NULL || !r->started || r->ended || r->notify_fd < 0) {
    fd = -ENOTCONN;
  } else {
    r->busy++;
    fd = r->notify_fd;
    strncpy(mnt, r->mnt, mnt_len - 1);
    mnt[mnt_len - 1] = '\0';
    *root_mnt_id = r->root_mnt_id;
  }
  pthread_mutex_unlock(&regs_mu);
  return fd;
}

void pfs_mount_release(int id, int root_mnt_id) {
  pthread_mutex_lock(&regs_mu);
  reg_t *r = by_id(id);
  if (r != NULL) {
    r->busy--;
    if (root_mnt_id >= 0) r->root_mnt_id = root_mnt_id;
    maybe_free(r);
  }
  pthread_mutex_unlock(&regs_mu);
}

// JS: registerMount(mountPoint: string, want: number, requestBytes?: number) -> id (0: no free slot)
// requestBytes: largest read/write request wanted (a multiple of 4096 above 131072 to take effect).
static napi_value register_mount(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  char mnt[1024];
  size_t len = 0;
  uint32_t want = 0, request_bytes = 0;
  int id = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && (argc == 2 || argc == 3) &&
      napi_get_value_string_utf8(env, argv[0], mnt, sizeof mnt, &len) == napi_ok && len < sizeof mnt - 1 &&
      napi_get_value_uint32(env, argv[1], &want) == napi_ok &&
      (argc == 2 || napi_get_value_uint32(env, argv[2], &request_bytes) == napi_ok)) {
    pthread_mutex_lock(&regs_mu);
    for (int i = 0; i < MAX_MOUNTS; i++) {
      if (regs[i].id == 0) {
        memset(&regs[i], 0, sizeof regs[i]);
        regs[i].id = id = ++next_id;
        memcpy(regs[i].mnt, mnt, len + 1);
        regs[i].want = want & (PFS_WANT_LOCK | PFS_WANT_FLOCK);
        regs[i].request_bytes = request_bytes % 4096 == 0 && request_bytes <= (1u << 28) ? request_bytes : 0;
        regs[i].notify_fd = -1;
        regs[i].root_mnt_id = -1;
        regs[i].negotiated = -1;
        break;
      }
    }
    pthread_mutex_unlock(&regs_mu);
  }
  napi_create_int32(env, id, &out);
  return out;
}

// JS: abandonMount(id): the mount failed; forget a registration no session uses.
static napi_value abandon_mount(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t id = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1 && napi_get_value_int32(env, argv[0], &id) == napi_ok) {
    pthread_mutex_lock(&regs_mu);
    reg_t *r = by_id(id);
    if (r != NULL) {
      r->abandoned = 1;
      maybe_free(r);
    }
    pthread_mutex_unlock(&regs_mu);
  }
  return NULL;
}

// JS: mountState(id) -> null | [started, wrapped, installed, ended, negotiated]
// negotiated: -1 until the INIT reply is sent, then the request bytes it offered (0: libfuse's 128 KiB).
static napi_value mount_state(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t id = 0;
  napi_get_null(env, &out);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_get_value_int32(env, argv[0], &id) != napi_ok) return out;
  int vals[5], found = 0;
  pthread_mutex_lock(&regs_mu);
  reg_t *r = by_id(id);
  if (r != NULL) {
    found = 1;
    vals[0] = r->started; vals[1] = r->wrapped; vals[2] = (int) r->installed; vals[3] = r->ended; vals[4] = (int) r->negotiated;
  }
  pthread_mutex_unlock(&regs_mu);
  if (!found) return out;
  napi_create_array_with_length(env, 5, &out);
  for (uint32_t i = 0; i < 5; i++) {
    napi_value v;
    napi_create_int32(env, vals[i], &v);
    napi_set_element(env, out, i, v);
  }
  return out;
}

napi_status pfs_mounts_init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
    { "registerMount", NULL, register_mount, NULL, NULL, NULL, napi_default, NULL },
    { "abandonMount", NULL, abandon_mount, NULL, NULL, NULL, napi_default, NULL },
    { "mountState", NULL, mount_state, NULL, NULL, NULL, napi_default, NULL },
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
