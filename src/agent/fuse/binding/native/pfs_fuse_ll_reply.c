// pfs_fuse_ll_reply: how JS names requests, and the reply functions it calls.
//
// A request handed to JS is a slot in one process-wide table: id = generation * 2^22 + index,
// a double (below 2^53). Answering takes the fuse_req_t out of its slot under the table's lock
// and bumps the slot's generation, so a second answer, or one for a request libfuse already
// freed, finds no slot and is refused (-ENOENT) without touching the request. The interrupt
// callback goes through the same table: a stale one (the request was answered meanwhile)
// finds nothing. Replies run on the JS thread; libfuse's fuse_reply_* may be called from any
// thread (one writev on /dev/fuse, then the request is freed under libfuse's own lock).

#include "pfs_fuse_ll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#define SLOT_BITS 22
#define SLOT_SPAN 4194304.0  // 2^22
#define GEN_MASK 0x7fffffffu

typedef struct {
  fuse_req_t req;
  sess_t *s;
  uint32_t gen;
  uint32_t next_free;  // index + 1 of the next free slot, 0 = none
  uint8_t used, dispatched, interrupted;
} slot_t;

static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static slot_t *slots;
static uint32_t nslots, free_head;  // free_head: index + 1

void slot_lock(void) { pthread_mutex_lock(&slot_mu); }
void slot_unlock(void) { pthread_mutex_unlock(&slot_mu); }

double slot_take(fuse_req_t req, sess_t *s) {
  pthread_mutex_lock(&slot_mu);
  if (free_head == 0) {
    uint32_t grown = nslots ? nslots * 2 : 1024;
    slot_t *n = grown <= (1u << SLOT_BITS) ? realloc(slots, grown * sizeof *n) : NULL;
    if (n == NULL) { pthread_mutex_unlock(&slot_mu); return -1; }
    memset(n + nslots, 0, (grown - nslots) * sizeof *n);
    for (uint32_t i = grown; i > nslots; i--) { n[i - 1].next_free = free_head; free_head = i; }
    slots = n;
    nslots = grown;
  }
  uint32_t i = free_head - 1;
  slot_t *sl = &slots[i];
  free_head = sl->next_free;
  sl->req = req;
  sl->s = s;
  sl->used = 1;
  sl->dispatched = sl->interrupted = 0;
  double id = (double) sl->gen * SLOT_SPAN + i;
  pthread_mutex_unlock(&slot_mu);
  return id;
}

// The slot of id when it still names a request in flight (slot_mu held), else NULL.
static slot_t *find(double id) {
  if (!(id >= 0)) return NULL;
  uint32_t gen = (uint32_t) (id / SLOT_SPAN);
  uint32_t i = (uint32_t) (id - (double) gen * SLOT_SPAN);
  if (i >= nslots || !slots[i].used || slots[i].gen != gen) return NULL;
  return &slots[i];
}

fuse_req_t slot_release(double id, sess_t **s) {
  pthread_mutex_lock(&slot_mu);
  slot_t *sl = find(id);
  fuse_req_t req = NULL;
  if (sl) {
    req = sl->req;
    *s = sl->s;
    sl->used = 0;
    sl->req = NULL;
    sl->gen = (sl->gen + 1) & GEN_MASK;
    uint32_t i = (uint32_t) (sl - slots);
    sl->next_free = free_head;
    free_head = i + 1;
  }
  pthread_mutex_unlock(&slot_mu);
  return req;
}

fuse_req_t slot_peek(double id) {
  slot_t *sl = find(id);
  return sl ? sl->req : NULL;
}

// From libfuse's interrupt callback (any thread, libfuse's request lock held). Before JS has the
// request the flag is kept for dispatch (slot_dispatched); after, JS gets an INTERRUPT message.
void slot_interrupted(double id) {
  pthread_mutex_lock(&slot_mu);
  slot_t *sl = find(id);
  sess_t *s = NULL;
  if (sl) {
    sl->interrupted = 1;
    if (sl->dispatched) s = sl->s;
  }
  pthread_mutex_unlock(&slot_mu);
  if (s == NULL) return;
  msg_t *m = calloc(1, sizeof *m);
  if (m == NULL) return;
  m->op = OP_INTERRUPT;
  m->id = id;
  ll_push(s, m);
}

int slot_dispatched(double id) {
  pthread_mutex_lock(&slot_mu);
  slot_t *sl = find(id);
  int interrupted = 0;
  if (sl) { sl->dispatched = 1; interrupted = sl->interrupted; }
  pthread_mutex_unlock(&slot_mu);
  return interrupted;
}

// Answers the request id with `call` (req in scope), counts it answered, may tear down.
#define REPLY(idv, call) \
  do { \
    sess_t *s_ = NULL; \
    fuse_req_t req = slot_release(idv, &s_); \
    if (req == NULL) return ll_int(env, -ENOENT); \
    int r_ = (call); \
    __atomic_sub_fetch(&s_->unanswered, 1, __ATOMIC_RELEASE); \
    ll_teardown_if_done(env, s_); \
    return ll_int(env, r_); \
  } while (0)

// attr: Float64Array [ino, mode, nlink, uid, gid, rdev, size, blocks, atime s, ns, mtime s, ns, ctime s, ns, blksize]
static int get_attr(napi_env env, napi_value v, struct stat *st) {
  napi_typedarray_type type;
  size_t n;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &n, &data, NULL, NULL) != napi_ok || type != napi_float64_array || n < 15) return -1;
  const double *a = data;
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t) a[0]; st->st_mode = (mode_t) a[1]; st->st_nlink = (nlink_t) a[2];
  st->st_uid = (uid_t) a[3]; st->st_gid = (gid_t) a[4]; st->st_rdev = (dev_t) a[5];
  st->st_size = (off_t) a[6]; st->st_blocks = (blkcnt_t) a[7];
  st->st_atim.tv_sec = (time_t) a[8]; st->st_atim.tv_nsec = (long) a[9];
  st->st_mtim.tv_sec = (time_t) a[10]; st->st_mtim.tv_nsec = (long) a[11];
  st->st_ctim.tv_sec = (time_t) a[12]; st->st_ctim.tv_nsec = (long) a[13];
  st->st_blksize = (blksize_t) a[14];
  return 0;
}

static const double *get_doubles(napi_env env, napi_value v, size_t want) {
  napi_typedarray_type type;
  size_t n;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &n, &data, NULL, NULL) != napi_ok || type != napi_float64_array || n < want) return NULL;
  return data;
}

// replyErr(id, errno) (0: success for the ops that answer nothing else)
static napi_value js_reply_err(napi_env env, napi_callback_info info) {
  ARGS(2)
  REPLY(ll_num(env, argv[0]), fuse_reply_err(req, (int) ll_num(env, argv[1])));
}

// (attr, attrTimeoutS, entryTimeoutS) at argv: an entry (ino 0: negative). Node ids are the
// volume's inode numbers, never reused, so the generation is constant.
static int get_entry(napi_env env, const napi_value *argv, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  if (get_attr(env, argv[0], &e->attr) != 0) return -1;
  e->ino = e->attr.st_ino;
  e->generation = 1;
  e->attr_timeout = ll_num(env, argv[1]);
  e->entry_timeout = ll_num(env, argv[2]);
  return 0;
}

// replyEntry(id, attr, attrTimeoutS, entryTimeoutS)
static napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  ARGS(4)
  struct fuse_entry_param e;
  int bad = get_entry(env, argv + 1, &e);
  REPLY(ll_num(env, argv[0]), bad ? fuse_reply_err(req, EIO) : fuse_reply_entry(req, &e));
}

// (fh, openFlags: 1 direct_io | 2 keep_cache) at argv.
static void get_open(napi_env env, const napi_value *argv, struct fuse_file_info *fi) {
  memset(fi, 0, sizeof *fi);
  fi->fh = (uint64_t) ll_num(env, argv[0]);
  int flags = (int) ll_num(env, argv[1]);
  fi->direct_io = flags & 1;
  fi->keep_cache = (flags & 2) != 0;
}

// replyCreate(id, attr, attrTimeoutS, entryTimeoutS, fh, openFlags)
static napi_value js_reply_create(napi_env env, napi_callback_info info) {
  ARGS(6)
  struct fuse_entry_param e;
  struct fuse_file_info fi;
  int bad = get_entry(env, argv + 1, &e);
  get_open(env, argv + 4, &fi);
  REPLY(ll_num(env, argv[0]), bad ? fuse_reply_err(req, EIO) : fuse_reply_create(req, &e, &fi));
}

// replyAttr(id, attr, attrTimeoutS)
static napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  ARGS(3)
  struct stat st;
  int bad = get_attr(env, argv[1], &st);
  REPLY(ll_num(env, argv[0]), bad ? fuse_reply_err(req, EIO) : fuse_reply_attr(req, &st, ll_num(env, argv[2])));
}

// replyOpen(id, fh, openFlags)
static napi_value js_reply_open(napi_env env, napi_callback_info info) {
  ARGS(3)
  struct fuse_file_info fi;
  get_open(env, argv + 1, &fi);
  REPLY(ll_num(env, argv[0]), fuse_reply_open(req, &fi));
}

// replyBuf(id, buffer): read data, an xattr value, a list of xattr names.
static napi_value js_reply_buf(napi_env env, napi_callback_info info) {
  ARGS(2)
  void *data = NULL;
  size_t len = 0;
  napi_get_buffer_info(env, argv[1], &data, &len);
  REPLY(ll_num(env, argv[0]), fuse_reply_buf(req, data, len));
}

// replyWrite(id, count)
static napi_value js_reply_write(napi_env env, napi_callback_info info) {
  ARGS(2)
  REPLY(ll_num(env, argv[0]), fuse_reply_write(req, (size_t) ll_num(env, argv[1])));
}

// replyXattrSize(id, size): the answer to a size-0 getxattr/listxattr probe.
static napi_value js_reply_xattr_size(napi_env env, napi_callback_info info) {
  ARGS(2)
  REPLY(ll_num(env, argv[0]), fuse_reply_xattr(req, (size_t) ll_num(env, argv[1])));
}

// replyReadlink(id, target)
static napi_value js_reply_readlink(napi_env env, napi_callback_info info) {
  ARGS(2)
  size_t len = 0;
  napi_get_value_string_utf8(env, argv[1], NULL, 0, &len);
  char *link = malloc(len + 1);
  if (link) napi_get_value_string_utf8(env, argv[1], link, len + 1, &len);
  sess_t *s_ = NULL;
  fuse_req_t req = slot_release(ll_num(env, argv[0]), &s_);
  if (req == NULL) { free(link); return ll_int(env, -ENOENT); }
  int r = link ? fuse_reply_readlink(req, link) : fuse_reply_err(req, ENOMEM);
  free(link);
  __atomic_sub_fetch(&s_->unanswered, 1, __ATOMIC_RELEASE);
  ll_teardown_if_done(env, s_);
  return ll_int(env, r);
}

// replyStatfs(id, Float64Array [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, namemax])
static napi_value js_reply_statfs(napi_env env, napi_callback_info info) {
  ARGS(2)
  const double *d = get_doubles(env, argv[1], 9);
  struct statvfs st;
  memset(&st, 0, sizeof st);
  if (d) {
    st.f_bsize = (unsigned long) d[0]; st.f_frsize = (unsigned long) d[1];
    st.f_blocks = (fsblkcnt_t) d[2]; st.f_bfree = (fsblkcnt_t) d[3]; st.f_bavail = (fsblkcnt_t) d[4];
    st.f_files = (fsfilcnt_t) d[5]; st.f_ffree = (fsfilcnt_t) d[6]; st.f_favail = (fsfilcnt_t) d[7];
    st.f_namemax = (unsigned long) d[8];
  }
  REPLY(ll_num(env, argv[0]), d ? fuse_reply_statfs(req, &st) : fuse_reply_err(req, EIO));
}

// replyLock(id, Float64Array [l_type, start, end exclusive or -1, pid]): getlk's answer.
static napi_value js_reply_lock(napi_env env, napi_callback_info info) {
  ARGS(2)
  const double *d = get_doubles(env, argv[1], 4);
  struct flock l;
  memset(&l, 0, sizeof l);
  if (d) {
    l.l_type = (short) d[0];
    l.l_whence = SEEK_SET;
    l.l_start = (off_t) d[1];
    l.l_len = d[2] < 0 ? 0 : (off_t) (d[2] - d[1]);
    l.l_pid = (pid_t) d[3];
  }
  REPLY(ll_num(env, argv[0]), d ? fuse_reply_lock(req, &l) : fuse_reply_err(req, EIO));
}

// replyDir(id, size, names[], inos[], modes[], offs[]) -> how many entries fit (they are sent).
static napi_value js_reply_dir(napi_env env, napi_callback_info info) {
  ARGS(6)
  double id = ll_num(env, argv[0]);
  size_t size = (size_t) ll_num(env, argv[1]);
  uint32_t n = 0;
  napi_get_array_length(env, argv[2], &n);
  char *buf = malloc(size ? size : 1);
  size_t used = 0;
  uint32_t i = 0;
  char name[1024];
  for (; buf && i < n; i++) {
    napi_value v;
    size_t nl;
    napi_get_element(env, argv[2], i, &v);
    if (napi_get_value_string_utf8(env, v, name, sizeof name, &nl) != napi_ok) break;
    struct stat st;
    memset(&st, 0, sizeof st);
    napi_get_element(env, argv[3], i, &v);
    st.st_ino = (ino_t) ll_num(env, v);
    napi_get_element(env, argv[4], i, &v);
    st.st_mode = (mode_t) ll_num(env, v);
    napi_get_element(env, argv[5], i, &v);
    off_t off = (off_t) ll_num(env, v);
    // fuse_add_direntry with no buffer only measures.
    size_t need = fuse_add_direntry(NULL, NULL, 0, name, NULL, 0);
    if (used + need > size) break;
    fuse_add_direntry(NULL, buf + used, size - used, name, &st, off);
    used += need;
  }
  sess_t *s = NULL;
  fuse_req_t req = slot_release(id, &s);
  if (req == NULL) { free(buf); return ll_int(env, -ENOENT); }
  if (buf) fuse_reply_buf(req, buf, used);
  else fuse_reply_err(req, ENOMEM);
  free(buf);
  __atomic_sub_fetch(&s->unanswered, 1, __ATOMIC_RELEASE);
  ll_teardown_if_done(env, s);
  return ll_int(env, buf ? (int) i : 0);
}

// callerContext(id) -> [uid, gid, pid, umask], or null once answered.
static napi_value js_caller(napi_env env, napi_callback_info info) {
  ARGS(1)
  double f[4];
  slot_lock();
  fuse_req_t req = slot_peek(ll_num(env, argv[0]));
  if (req) {
    const struct fuse_ctx *c = fuse_req_ctx(req);
    f[0] = c->uid; f[1] = c->gid; f[2] = c->pid; f[3] = c->umask;
  }
  slot_unlock();
  napi_value out, v;
  if (req == NULL) { napi_get_null(env, &out); return out; }
  napi_create_array_with_length(env, 4, &out);
  for (int i = 0; i < 4; i++) {
    napi_create_double(env, f[i], &v);
    napi_set_element(env, out, i, v);
  }
  return out;
}

napi_status ll_reply_props(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "replyErr", NULL, js_reply_err, NULL, NULL, NULL, napi_default, NULL },
    { "replyEntry", NULL, js_reply_entry, NULL, NULL, NULL, napi_default, NULL },
    { "replyCreate", NULL, js_reply_create, NULL, NULL, NULL, napi_default, NULL },
    { "replyAttr", NULL, js_reply_attr, NULL, NULL, NULL, napi_default, NULL },
    { "replyOpen", NULL, js_reply_open, NULL, NULL, NULL, napi_default, NULL },
    { "replyBuf", NULL, js_reply_buf, NULL, NULL, NULL, napi_default, NULL },
    { "replyWrite", NULL, js_reply_write, NULL, NULL, NULL, napi_default, NULL },
    { "replyXattrSize", NULL, js_reply_xattr_size, NULL, NULL, NULL, napi_default, NULL },
    { "replyReadlink", NULL, js_reply_readlink, NULL, NULL, NULL, napi_default, NULL },
    { "replyStatfs", NULL, js_reply_statfs, NULL, NULL, NULL, napi_default, NULL },
    { "replyLock", NULL, js_reply_lock, NULL, NULL, NULL, napi_default, NULL },
    { "replyDir", NULL, js_reply_dir, NULL, NULL, NULL, napi_default, NULL },
    { "callerContext", NULL, js_caller, NULL, NULL, NULL, napi_default, NULL },
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
