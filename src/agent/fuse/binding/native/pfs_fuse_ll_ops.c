// pfs_fuse_ll_ops: libfuse's low-level handlers. Each one copies what its request carries
// (names, write and xattr bytes, setattr fields, a lock) into a message, names the request by
// a slot (pfs_fuse_ll_reply.c), registers the interrupt callback and queues the message; it
// never waits. Runs on the loop thread ('thread' reader) or the JS thread ('poll' reader).
//
// Message fields by op (x, y; fh; name, name2; data):
//   LOOKUP, UNLINK, RMDIR, REMOVEXATTR  name          GETATTR      fh, x 1 when fi given
//   SETATTR   x to_set, y 1 when fi, fh, data 8 doubles (mode uid gid size atime s ns mtime s ns)
//   MKNOD     name, x mode, y rdev                   MKDIR        name, x mode
//   SYMLINK   name, name2 target                     RENAME       name, fh new parent, name2 new name
//   LINK      fh new parent, name new name           OPEN/OPENDIR/CREATE  y flags (CREATE: name, x mode)
//   READ, READDIR  fh, x offset, y size              WRITE        fh, x offset, data bytes
//   FLUSH     fh, name2 owner                        RELEASE      fh, y flags, x flock_release, name2 owner
//   FSYNC(DIR) fh, x datasync                        SETXATTR     name, x flags, data bytes
//   GETXATTR  name, y size                           LISTXATTR    y size
//   ACCESS    x mask                                 FLOCK        fh, name2 owner, x op (LOCK_*)
//   GETLK/SETLK  fh, name2 owner, data [l_type, start, end exclusive or -1, pid], SETLK x sleep
//   FORGET    x nlookup (ino 0: data = pairs ino, nlookup)

#include "pfs_fuse_ll.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static msg_t *new_msg(int op, uint64_t ino) {
  msg_t *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->op = op;
  m->ino = ino;
  return m;
}

static void free_msg(msg_t *m, sess_t *s) {
  if (m == NULL) return;
  if (m->wslot) ll_wpool_release(s, m->wslot - 1);
  free(m->name);
  free(m->name2);
  free(m->data);
  free(m);
}

static void on_interrupt(fuse_req_t req, void *data) {
  (void) req;
  slot_interrupted((double) (uintptr_t) data);
}

// Queues a request: a slot names it to JS; out of memory or slots answers ENOMEM at once.
static void post(fuse_req_t req, msg_t *m, int ok) {
  sess_t *s = fuse_req_userdata(req);
  double id = ok && m ? slot_take(req, s) : -1;
  if (id < 0) {
    free_msg(m, s);
    fuse_reply_err(req, ENOMEM);
    return;
  }
  m->id = id;
  m->is_request = 1;
  fuse_req_interrupt_func(req, on_interrupt, (void *) (uintptr_t) id);
  ll_push(s, m);
}

static msg_t *named(int op, uint64_t ino, const char *name) {
  msg_t *m = new_msg(op, ino);
  if (m && (m->name = strdup(name)) == NULL) { free(m); m = NULL; }
  return m;
}

static int set_owner(msg_t *m, uint64_t owner) {
  char buf[24];
  snprintf(buf, sizeof buf, "%llu", (unsigned long long) owner);
  return (m->name2 = strdup(buf)) != NULL;
}

static int copy_bytes(msg_t *m, const void *src, size_t len) {
  m->data = malloc(len ? len : 1);
  if (m->data == NULL) return 0;
  memcpy(m->data, src, len);
  m->data_len = len;
  m->data_bytes = 1;
  return 1;
}

static int doubles(msg_t *m, size_t n) {
  m->data = calloc(n, sizeof(double));
  m->data_len = n * sizeof(double);
  return m->data != NULL;
}

static void ll_init(void *userdata, struct fuse_conn_info *conn) {
  (void) conn;
  ll_push(userdata, new_msg(OP_INIT, 0));
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) { msg_t *m = named(OP_LOOKUP, parent, name); post(req, m, m != NULL); }

static void ll_forget(fuse_req_t req, fuse_ino_t ino, unsigned long nlookup) {
  sess_t *s = fuse_req_userdata(req);
  fuse_reply_none(req);
  msg_t *m = new_msg(OP_FORGET, ino);
  if (m == NULL) return;  // a lost forget only keeps an inode longer
  m->x = (double) nlookup;
  ll_push(s, m);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  sess_t *s = fuse_req_userdata(req);
  msg_t *m = new_msg(OP_FORGET, 0);
  if (m && doubles(m, count * 2)) {
    double *d = m->data;
    for (size_t i = 0; i < count; i++) { d[2 * i] = (double) forgets[i].ino; d[2 * i + 1] = (double) forgets[i].nlookup; }
  } else {
    free_msg(m, s);
    m = NULL;
  }
  fuse_reply_none(req);
  if (m) ll_push(s, m);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  msg_t *m = new_msg(OP_GETATTR, ino);
  if (m && fi) { m->fh = fi->fh; m->x = 1; }
  post(req, m, m != NULL);
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int to_set, struct fuse_file_info *fi) {
  msg_t *m = new_msg(OP_SETATTR, ino);
  int ok = m && doubles(m, 8);
  if (ok) {
    double *d = m->data;
    d[0] = a->st_mode; d[1] = a->st_uid; d[2] = a->st_gid; d[3] = (double) a->st_size;
    d[4] = (double) a->st_atim.tv_sec; d[5] = a->st_atim.tv_nsec;
    d[6] = (double) a->st_mtim.tv_sec; d[7] = a->st_mtim.tv_nsec;
    m->x = to_set;
    if (fi) { m->fh = fi->fh; m->y = 1; }
  }
  post(req, m, ok);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino) { msg_t *m = new_msg(OP_READLINK, ino); post(req, m, m != NULL); }

static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  msg_t *m = named(OP_MKNOD, parent, name);
  if (m) { m->x = mode; m->y = (double) rdev; }
  post(req, m, m != NULL);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  msg_t *m = named(OP_MKDIR, parent, name);
  if (m) m->x = mode;
  post(req, m, m != NULL);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) { msg_t *m = named(OP_UNLINK, parent, name); post(req, m, m != NULL); }
static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) { msg_t *m = named(OP_RMDIR, parent, name); post(req, m, m != NULL); }

static void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  msg_t *m = named(OP_SYMLINK, parent, name);
  post(req, m, m && (m->name2 = strdup(link)) != NULL);
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname) {
  msg_t *m = named(OP_RENAME, parent, name);
  if (m) m->fh = newparent;
  post(req, m, m && (m->name2 = strdup(newname)) != NULL);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  msg_t *m = named(OP_LINK, ino, newname);
  if (m) m->fh = newparent;
  post(req, m, m != NULL);
}

#define WITH_FI(OPNAME, OPCODE) \
  static void OPNAME(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { \
    msg_t *m = new_msg(OPCODE, ino); \
    if (m) { m->fh = fi->fh; m->y = fi->flags; } \
    post(req, m, m != NULL); \
  }
WITH_FI(ll_open, OP_OPEN)
WITH_FI(ll_opendir, OP_OPENDIR)
WITH_FI(ll_releasedir, OP_RELEASEDIR)

#define RW(OPNAME, OPCODE) \
  static void OPNAME(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) { \
    msg_t *m = new_msg(OPCODE, ino); \
    if (m) { m->fh = fi->fh; m->x = (double) off; m->y = (double) size; } \
    post(req, m, m != NULL); \
  }
RW(ll_read, OP_READ)
RW(ll_readdir, OP_READDIR)

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  // The reader reuses its receive buffer for the next request: copy, into a write-pool slot
  // (returned when JS answered) or else a malloc (the handler owns the copy).
  sess_t *s = fuse_req_userdata(req);
  msg_t *m = new_msg(OP_WRITE, ino);
  int ok = m != NULL;
  if (ok) {
    int slot = ll_wpool_take(s, size);
    if (slot >= 0) {
      memcpy(s->wmem[slot], buf, size);
      m->wslot = slot + 1;
      m->data_len = size;
      m->y = slot + 1;
    } else {
      ok = copy_bytes(m, buf, size);
    }
  }
  if (ok) { m->fh = fi->fh; m->x = (double) off; }
  post(req, m, ok);
}

static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  msg_t *m = new_msg(OP_FLUSH, ino);
  if (m) m->fh = fi->fh;
  post(req, m, m && set_owner(m, fi->lock_owner));
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  msg_t *m = new_msg(OP_RELEASE, ino);
  if (m) { m->fh = fi->fh; m->y = fi->flags; m->x = fi->flock_release; }
  post(req, m, m && set_owner(m, fi->lock_owner));
}

#define SYNC(OPNAME, OPCODE) \
  static void OPNAME(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) { \
    msg_t *m = new_msg(OPCODE, ino); \
    if (m) { m->fh = fi->fh; m->x = datasync; } \
    post(req, m, m != NULL); \
  }
SYNC(ll_fsync, OP_FSYNC)
SYNC(ll_fsyncdir, OP_FSYNCDIR)

static void ll_statfs(fuse_req_t req, fuse_ino_t ino) { msg_t *m = new_msg(OP_STATFS, ino); post(req, m, m != NULL); }

static void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  msg_t *m = named(OP_SETXATTR, ino, name);
  int ok = m && copy_bytes(m, value, size);
  if (ok) m->x = flags;
  post(req, m, ok);
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  sess_t *s = fuse_req_userdata(req);
  // The kernel asks this before every write (file_remove_privs): answered here for the nodes
  // JS marked (markCapabilityAbsent), without waking JS.
  if (strcmp(name, "security.capability") == 0 && capset_answer(&s->caps, ino)) {
    fuse_reply_err(req, ENODATA);
    return;
  }
  msg_t *m = named(OP_GETXATTR, ino, name);
  if (m) m->y = (double) size;
  post(req, m, m != NULL);
}

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  msg_t *m = new_msg(OP_LISTXATTR, ino);
  if (m) m->y = (double) size;
  post(req, m, m != NULL);
}

static void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) { msg_t *m = named(OP_REMOVEXATTR, ino, name); post(req, m, m != NULL); }

static void ll_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  msg_t *m = new_msg(OP_ACCESS, ino);
  if (m) m->x = mask;
  post(req, m, m != NULL);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  msg_t *m = named(OP_CREATE, parent, name);
  if (m) { m->x = mode; m->y = fi->flags; }
  post(req, m, m != NULL);
}

// struct flock (libfuse: l_len 0 = to the end) → [l_type, start, end exclusive or -1, pid].
static msg_t *lock_msg(int op, fuse_ino_t ino, struct fuse_file_info *fi, const struct flock *l) {
  msg_t *m = new_msg(op, ino);
  if (m == NULL) return NULL;
  if (!doubles(m, 4) || !set_owner(m, fi->lock_owner)) { free_msg(m, NULL); return NULL; }
  double *d = m->data;
  d[0] = l->l_type;
  d[1] = (double) l->l_start;
  d[2] = l->l_len == 0 ? -1 : (double) l->l_start + (double) l->l_len;
  d[3] = l->l_pid;
  m->fh = fi->fh;
  return m;
}

static void ll_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock) {
  msg_t *m = lock_msg(OP_GETLK, ino, fi, lock);
  post(req, m, m != NULL);
}

static void ll_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock, int sleep) {
  msg_t *m = lock_msg(OP_SETLK, ino, fi, lock);
  if (m) m->x = sleep;
  post(req, m, m != NULL);
}

static void ll_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op) {
  msg_t *m = new_msg(OP_FLOCK, ino);
  if (m) { m->fh = fi->fh; m->x = op; }
  post(req, m, m && set_owner(m, fi->lock_owner));
}

static const struct fuse_lowlevel_ops all_ops = {
  .init = ll_init, .lookup = ll_lookup, .forget = ll_forget, .forget_multi = ll_forget_multi,
  .getattr = ll_getattr, .setattr = ll_setattr, .readlink = ll_readlink, .mknod = ll_mknod,
  .mkdir = ll_mkdir, .unlink = ll_unlink, .rmdir = ll_rmdir, .symlink = ll_symlink,
  .rename = ll_rename, .link = ll_link, .open = ll_open, .read = ll_read, .write = ll_write,
  .flush = ll_flush, .release = ll_release, .fsync = ll_fsync, .opendir = ll_opendir,
  .readdir = ll_readdir, .releasedir = ll_releasedir, .fsyncdir = ll_fsyncdir, .statfs = ll_statfs,
  .setxattr = ll_setxattr, .getxattr = ll_getxattr, .listxattr = ll_listxattr,
  .removexattr = ll_removexattr, .access = ll_access, .create = ll_create, .getlk = ll_getlk,
  .setlk = ll_setlk, .flock = ll_flock,
};

// libfuse asks the kernel for remote POSIX locks only when getlk and setlk are set, and for
// flock only when flock is: without a JS handler the kernel keeps those locks itself.
void ll_make_ops(struct fuse_lowlevel_ops *ops, int features) {
  *ops = all_ops;
  if (!(features & FEAT_POSIX_LOCKS)) { ops->getlk = NULL; ops->setlk = NULL; }
  if (!(features & FEAT_FLOCK)) ops->flock = NULL;
}
