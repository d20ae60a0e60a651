// pfs_fuse_ll: a prototype of the inode-based FUSE session (docs/FUSE-BINDING.md part 8).
//
// libfuse 2.9's low-level API, nothing of fuse-native: fuse_mount() gives the /dev/fuse
// channel, fuse_lowlevel_new() a session whose handlers are the ll_* functions below, and
// one thread per session runs fuse_session_loop(). A handler never waits: it copies what
// the request carries (name, write data) into a message, appends it to the session's queue
// and returns, so the loop thread reads the next request at once. The first message of an
// empty queue wakes the JS thread (a napi threadsafe function: one uv_async wakeup per
// batch); there the whole queue is taken and each message becomes one call of the JS
// dispatcher. JS answers whenever it likes by calling reply*(req, ...), which call
// fuse_reply_* on the JS thread (libfuse's replies may be sent from any thread: a reply
// is one writev on /dev/fuse and the request's release under the session's lock).
//
// Requests are named to JS by their fuse_req_t pointer (a double: user-space addresses
// fit in 53 bits). Each must be answered exactly once (the JS side guards that). FORGET
// and BATCH_FORGET are answered (fuse_reply_none) on the loop thread and only reported.
// When the kernel ends the connection (unmount) the loop returns and an END message is
// queued after every request; the session is torn down (fuse_unmount, which only closes
// the fd when the mount is already gone, and fuse_session_destroy) once END was seen and
// no request is unanswered.

#define _GNU_SOURCE
#define FUSE_USE_VERSION 29
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

enum {
  OP_INIT = 0, OP_END, OP_LOOKUP, OP_FORGET, OP_GETATTR, OP_SETATTR, OP_OPENDIR, OP_READDIR,
  OP_RELEASEDIR, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE, OP_FSYNC, OP_CREATE,
  OP_MKDIR, OP_LINK, OP_UNLINK, OP_STATFS,
};

typedef struct msg {
  struct msg *next;
  int op;
  fuse_req_t req;         // NULL for INIT, END, FORGET
  uint64_t ino, fh;
  double a, b;            // per op: offset/size, mode/flags, nlookup, to_set
  char *name;             // lookup/create/mkdir/unlink/link: a copy
  void *data;             // write: a copy; setattr: 8 doubles; forget: 2 doubles per node
  size_t data_len;
} msg_t;

typedef struct sess {
  char *mnt;
  struct fuse_chan *ch;
  struct fuse_session *se;
  pthread_t thread;
  napi_threadsafe_function tsfn;
  napi_ref dispatch;
  pthread_mutex_t mu;
  msg_t *head, *tail;
  int unanswered;         // requests handed to JS and not answered (atomic)
  int end_seen;           // JS thread only
  int torn_down;
  // Poll mode: no loop thread; the JS thread reads /dev/fuse (non-blocking) when libuv says it
  // is readable, runs libfuse's processing itself, then dispatches what the handlers queued.
  int poll_mode;
  int in_poll;            // on_readable is running: teardown waits until it returns
  uv_poll_t poll;
  napi_env env;
  napi_ref resource;
  napi_async_context actx;
  char *buf;
  size_t bufsize;
} sess_t;

// Process-wide counters (JS thread only): wakeups of the JS thread and messages they carried.
static double wakeups, messages;

static void push(sess_t *s, msg_t *m) {
  if (m->req) __atomic_add_fetch(&s->unanswered, 1, __ATOMIC_RELAXED);
  pthread_mutex_lock(&s->mu);
  int was_empty = s->head == NULL;
  if (s->tail) s->tail->next = m; else s->head = m;
  s->tail = m;
  pthread_mutex_unlock(&s->mu);
  if (was_empty && !s->poll_mode) napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
}

static msg_t *new_msg(int op, fuse_req_t req, uint64_t ino) {
  msg_t *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->op = op;
  m->req = req;
  m->ino = ino;
  return m;
}

// Queue a request; out of memory answers ENOMEM at once.
static void post(fuse_req_t req, msg_t *m) {
  if (m == NULL) { fuse_reply_err(req, ENOMEM); return; }
  push((sess_t *) fuse_req_userdata(req), m);
}

static msg_t *named(int op, fuse_req_t req, uint64_t ino, const char *name) {
  msg_t *m = new_msg(op, req, ino);
  if (m && (m->name = strdup(name)) == NULL) { free(m); m = NULL; }
  return m;
}

static void ll_init(void *userdata, struct fuse_conn_info *conn) {
  (void) conn;
  push((sess_t *) userdata, new_msg(OP_INIT, NULL, 0));
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) { post(req, named(OP_LOOKUP, req, parent, name)); }

static void ll_forget(fuse_req_t req, fuse_ino_t ino, unsigned long nlookup) {
  sess_t *s = fuse_req_userdata(req);
  fuse_reply_none(req);
  msg_t *m = new_msg(OP_FORGET, NULL, ino);
  if (m == NULL) return;  // a lost forget only keeps an inode longer
  m->a = (double) nlookup;
  push(s, m);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  sess_t *s = fuse_req_userdata(req);
  msg_t *m = new_msg(OP_FORGET, NULL, 0);
  double *d = m ? malloc(count * 2 * sizeof(double)) : NULL;
  for (size_t i = 0; d && i < count; i++) {
    d[2 * i] = (double) forgets[i].ino;
    d[2 * i + 1] = (double) forgets[i].nlookup;
  }
  fuse_reply_none(req);
  if (d == NULL) { free(m); return; }
  m->data = d;
  m->data_len = count * 2 * sizeof(double);
  push(s, m);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  msg_t *m = new_msg(OP_GETATTR, req, ino);
  if (m && fi) { m->fh = fi->fh; m->a = 1; }
  post(req, m);
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  msg_t *m = new_msg(OP_SETATTR, req, ino);
  double *d = m ? malloc(8 * sizeof(double)) : NULL;
  if (d == NULL) { free(m); fuse_reply_err(req, ENOMEM); return; }
  d[0] = attr->st_mode; d[1] = attr->st_uid; d[2] = attr->st_gid; d[3] = (double) attr->st_size;
  d[4] = (double) attr->st_atim.tv_sec; d[5] = attr->st_atim.tv_nsec;
  d[6] = (double) attr->st_mtim.tv_sec; d[7] = attr->st_mtim.tv_nsec;
  m->data = d;
  m->data_len = 8 * sizeof(double);
  m->a = to_set;
  if (fi) { m->fh = fi->fh; m->b = 1; }
  post(req, m);
}

#define WITH_FI(OPNAME, OPCODE) \
  static void OPNAME(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { \
    msg_t *m = new_msg(OPCODE, req, ino); \
    if (m) { m->fh = fi->fh; m->b = fi->flags; } \
    post(req, m); \
  }
WITH_FI(ll_opendir, OP_OPENDIR)
WITH_FI(ll_releasedir, OP_RELEASEDIR)
WITH_FI(ll_open, OP_OPEN)
WITH_FI(ll_flush, OP_FLUSH)
WITH_FI(ll_release, OP_RELEASE)

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  msg_t *m = new_msg(OP_READDIR, req, ino);
  if (m) { m->fh = fi->fh; m->a = (double) off; m->b = (double) size; }
  post(req, m);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  msg_t *m = new_msg(OP_READ, req, ino);
  if (m) { m->fh = fi->fh; m->a = (double) off; m->b = (double) size; }
  post(req, m);
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  // The loop thread reuses its receive buffer for the next request: copy.
  msg_t *m = new_msg(OP_WRITE, req, ino);
  void *copy = m ? malloc(size ? size : 1) : NULL;
  if (copy == NULL) { free(m); fuse_reply_err(req, ENOMEM); return; }
  memcpy(copy, buf, size);
  m->fh = fi->fh;
  m->a = (double) off;
  m->data = copy;
  m->data_len = size;
  post(req, m);
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  msg_t *m = new_msg(OP_FSYNC, req, ino);
  if (m) { m->fh = fi->fh; m->a = datasync; }
  post(req, m);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  msg_t *m = named(OP_CREATE, req, parent, name);
  if (m) { m->a = mode; m->b = fi->flags; }
  post(req, m);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  msg_t *m = named(OP_MKDIR, req, parent, name);
  if (m) m->a = mode;
  post(req, m);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  msg_t *m = named(OP_LINK, req, ino, newname);
  if (m) m->fh = newparent;
  post(req, m);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) { post(req, named(OP_UNLINK, req, parent, name)); }

static const struct fuse_lowlevel_ops ll_ops = {
  .init = ll_init, .lookup = ll_lookup, .forget = ll_forget, .forget_multi = ll_forget_multi,
  .getattr = ll_getattr, .setattr = ll_setattr, .opendir = ll_opendir, .readdir = ll_readdir,
  .releasedir = ll_releasedir, .open = ll_open, .read = ll_read, .write = ll_write, .flush = ll_flush,
  .release = ll_release, .fsync = ll_fsync, .create = ll_create, .mkdir = ll_mkdir, .link = ll_link,
  .unlink = ll_unlink,
};

static void *loop_main(void *arg) {
  sess_t *s = arg;
  fuse_session_loop(s->se);
  push(s, new_msg(OP_END, NULL, 0));
  return NULL;
}

// ---- JS side ----

static void free_buffer(napi_env env, void *data, void *hint) { (void) env; (void) hint; free(data); }

static void teardown_if_done(napi_env env, sess_t *s) {
  if (!s->end_seen || s->torn_down || s->in_poll || __atomic_load_n(&s->unanswered, __ATOMIC_ACQUIRE) != 0) return;
  s->torn_down = 1;
  if (s->poll_mode) {
    uv_close((uv_handle_t *) &s->poll, NULL);  // s stays allocated (see below), so the handle may outlive this
    napi_async_destroy(env, s->actx);
    napi_delete_reference(env, s->resource);
    free(s->buf);
  } else {
    pthread_join(s->thread, NULL);
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  }
  fuse_unmount(s->mnt, s->ch);  // the mount is already gone: closes the fd (and destroys the channel)
  fuse_session_destroy(s->se);
  napi_delete_reference(env, s->dispatch);
  // s itself stays allocated: late reply calls for its requests are refused by req lookup in JS.
}

// One wakeup: every queued message becomes one call dispatch(op, req, ino, fh, a, b, name, data).
static void dispatch_queue(napi_env env, sess_t *s) {
  pthread_mutex_lock(&s->mu);
  msg_t *m = s->head;
  s->head = s->tail = NULL;
  pthread_mutex_unlock(&s->mu);
  napi_value dispatch, undef;
  napi_get_reference_value(env, s->dispatch, &dispatch);
  napi_get_undefined(env, &undef);
  wakeups++;
  while (m != NULL) {
    messages++;
    msg_t *next = m->next;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value argv[8];
    napi_create_int32(env, m->op, &argv[0]);
    napi_create_double(env, (double) (uintptr_t) m->req, &argv[1]);
    napi_create_double(env, (double) m->ino, &argv[2]);
    napi_create_double(env, (double) m->fh, &argv[3]);
    napi_create_double(env, m->a, &argv[4]);
    napi_create_double(env, m->b, &argv[5]);
    argv[6] = undef;
    argv[7] = undef;
    if (m->name) napi_create_string_utf8(env, m->name, NAPI_AUTO_LENGTH, &argv[6]);
    if (m->data) {
      napi_value ab;
      if (m->op == OP_WRITE) {
        napi_create_external_buffer(env, m->data_len, m->data, free_buffer, NULL, &argv[7]);
      } else if (napi_create_external_arraybuffer(env, m->data, m->data_len, free_buffer, NULL, &ab) == napi_ok) {
        napi_create_typedarray(env, napi_float64_array, m->data_len / sizeof(double), ab, 0, &argv[7]);
      } else {
        free(m->data);
      }
    }
    if (m->op == OP_END) s->end_seen = 1;
    napi_value ignored;
    if (napi_call_function(env, undef, dispatch, 8, argv, &ignored) == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    napi_close_handle_scope(env, scope);
    free(m->name);
    free(m);
    m = next;
  }
  teardown_if_done(env, s);
}

static void call_js(napi_env env, napi_value fn, void *context, void *data) {
  (void) fn; (void) data;
  if (env != NULL) dispatch_queue(env, context);
}

// Poll mode: drain /dev/fuse through libfuse (as fuse_session_loop does, until EAGAIN), then
// run the handlers in a callback scope (so promise jobs and nextTicks run after them).
#define POLL_BATCH 256
static void on_readable(uv_poll_t *h, int status, int events) {
  (void) events;
  sess_t *s = h->data;
  int ended = status < 0;
  for (int n = 0; !ended && n < POLL_BATCH; n++) {
    struct fuse_chan *ch = s->ch;
    struct fuse_buf fbuf = { .mem = s->buf, .size = s->bufsize };
    int res = fuse_session_receive_buf(s->se, &fbuf, &ch);
    if (res == -EINTR) continue;
    if (res == -EAGAIN) break;
    if (res <= 0 || fuse_session_exited(s->se)) { ended = 1; break; }
    fuse_session_process_buf(s->se, &fbuf, ch);
  }
  if (ended) {
    uv_poll_stop(&s->poll);
    push(s, new_msg(OP_END, NULL, 0));
  }
  napi_env env = s->env;
  napi_handle_scope hs;
  napi_open_handle_scope(env, &hs);
  napi_value resource;
  napi_get_reference_value(env, s->resource, &resource);
  napi_callback_scope cs;
  s->in_poll = 1;
  napi_open_callback_scope(env, resource, s->actx, &cs);
  dispatch_queue(env, s);
  napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);
  s->in_poll = 0;
  teardown_if_done(env, s);
}

#define ARGS(n) \
  size_t argc = n; \
  napi_value argv[n]; \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) { \
    napi_throw_type_error(env, NULL, "wrong arguments"); \
    return NULL; \
  }

static void close_on_exec_new_fds(const unsigned char *before) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (fd <= 2 || fd >= 4096 || (before[fd / 8] & (1u << (fd % 8)))) continue;
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
  }
  closedir(d);
}

static void open_fds(unsigned char *set) {
  memset(set, 0, 512);
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (fd >= 0 && fd < 4096) set[fd / 8] |= (unsigned char) (1u << (fd % 8));
  }
  closedir(d);
}

// JS: mount(mountPoint, optionArg, dispatch, pollMode) -> session handle (external); throws on failure.
// pollMode false: a loop thread reads /dev/fuse; true: the JS thread does (on_readable).
// optionArg is "-o..." holding mount options (for fuse_mount) and low-level ones (fuse_lowlevel_new).
static napi_value js_mount(napi_env env, napi_callback_info info) {
  ARGS(4)
  char mnt[4096], opt[1024];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], mnt, sizeof mnt, &len) != napi_ok || len >= sizeof mnt - 1 ||
      napi_get_value_string_utf8(env, argv[1], opt, sizeof opt, &len) != napi_ok || len >= sizeof opt - 1) {
    napi_throw_type_error(env, NULL, "mount point or options too long");
    return NULL;
  }
  sess_t *s = calloc(1, sizeof *s);
  s->mnt = strdup(mnt);
  pthread_mutex_init(&s->mu, NULL);
  struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
  fuse_opt_add_arg(&args, "pfs");
  if (opt[0]) fuse_opt_add_arg(&args, opt);
  unsigned char before[512];
  open_fds(before);
  s->ch = fuse_mount(mnt, &args);
  // The /dev/fuse fd and the auto_unmount watchdog socket must not reach children (FUSE-BINDING.md 5.5).
  close_on_exec_new_fds(before);
  if (s->ch == NULL) {
    fuse_opt_free_args(&args);
    napi_throw_error(env, "EIO", "fuse_mount failed");
    return NULL;
  }
  s->se = fuse_lowlevel_new(&args, &ll_ops, sizeof ll_ops, s);
  fuse_opt_free_args(&args);
  if (s->se == NULL) {
    fuse_unmount(mnt, s->ch);
    napi_throw_error(env, "EINVAL", "fuse_lowlevel_new failed (unknown option?)");
    return NULL;
  }
  fuse_session_add_chan(s->se, s->ch);
  napi_value name;
  napi_create_string_utf8(env, "pfs_fuse_ll", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[2], 1, &s->dispatch);
  bool poll_mode = false;
  napi_get_value_bool(env, argv[3], &poll_mode);
  s->poll_mode = poll_mode;
  if (poll_mode) {
    uv_loop_t *loop;
    napi_value resource;
    napi_get_uv_event_loop(env, &loop);
    napi_create_object(env, &resource);
    napi_create_reference(env, resource, 1, &s->resource);
    napi_async_init(env, resource, name, &s->actx);
    s->env = env;
    s->bufsize = fuse_chan_bufsize(s->ch);
    s->buf = malloc(s->bufsize);
    int fd = fuse_chan_fd(s->ch);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    uv_poll_init(loop, &s->poll, fd);
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
  } else {
    napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, s, call_js, &s->tsfn);
    pthread_create(&s->thread, NULL, loop_main, s);
  }
  napi_value out;
  napi_create_external(env, s, NULL, NULL, &out);
  return out;
}

static fuse_req_t req_arg(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return (fuse_req_t) (uintptr_t) d;
}

static napi_value int_result(napi_env env, int r) {
  napi_value out;
  napi_create_int32(env, r, &out);
  return out;
}

// Every reply: answer, then count the request answered (and tear down after the end).
#define REPLY(req, call) \
  do { \
    sess_t *s_ = fuse_req_userdata(req); \
    int r_ = (call); \
    __atomic_sub_fetch(&s_->unanswered, 1, __ATOMIC_RELEASE); \
    napi_value out_ = int_result(env, r_); \
    teardown_if_done(env, s_); \
    return out_; \
  } while (0)

// attr: Float64Array [ino, mode, nlink, uid, gid, rdev, size, blocks, atime s, ns, mtime s, ns, ctime s, ns]
static int get_attr(napi_env env, napi_value v, struct stat *st) {
  napi_typedarray_type type;
  size_t n;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &n, &data, NULL, NULL) != napi_ok || type != napi_float64_array || n < 14) return -1;
  const double *a = data;
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t) a[0]; st->st_mode = (mode_t) a[1]; st->st_nlink = (nlink_t) a[2];
  st->st_uid = (uid_t) a[3]; st->st_gid = (gid_t) a[4]; st->st_rdev = (dev_t) a[5];
  st->st_size = (off_t) a[6]; st->st_blocks = (blkcnt_t) a[7]; st->st_blksize = 4096;
  st->st_atim.tv_sec = (time_t) a[8]; st->st_atim.tv_nsec = (long) a[9];
  st->st_mtim.tv_sec = (time_t) a[10]; st->st_mtim.tv_nsec = (long) a[11];
  st->st_ctim.tv_sec = (time_t) a[12]; st->st_ctim.tv_nsec = (long) a[13];
  return 0;
}

static double num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

// replyErr(req, errno)  (0 = success for ops that answer nothing else)
static napi_value js_reply_err(napi_env env, napi_callback_info info) {
  ARGS(2)
  fuse_req_t req = req_arg(env, argv[0]);
  REPLY(req, fuse_reply_err(req, (int) num(env, argv[1])));
}

// (attr, attrTimeoutS, entryTimeoutS) at argv: an entry; ino = attr[0] (0: negative entry).
// Inode numbers are never reused by the volume, so the generation is constant.
static int get_entry(napi_env env, const napi_value *argv, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  if (get_attr(env, argv[0], &e->attr) != 0) return -1;
  e->ino = e->attr.st_ino;
  e->generation = 1;
  e->attr_timeout = num(env, argv[1]);
  e->entry_timeout = num(env, argv[2]);
  return 0;
}

// replyEntry(req, attr, attrTimeoutS, entryTimeoutS)
static napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  ARGS(4)
  fuse_req_t req = req_arg(env, argv[0]);
  struct fuse_entry_param e;
  if (get_entry(env, argv + 1, &e) != 0) REPLY(req, fuse_reply_err(req, EIO));
  REPLY(req, fuse_reply_entry(req, &e));
}

// (fh, openFlags: 1 direct_io | 2 keep_cache) at argv: an open reply's file info.
static void get_open(napi_env env, const napi_value *argv, struct fuse_file_info *fi) {
  memset(fi, 0, sizeof *fi);
  fi->fh = (uint64_t) num(env, argv[0]);
  int flags = (int) num(env, argv[1]);
  fi->direct_io = flags & 1;
  fi->keep_cache = (flags & 2) != 0;
}

// replyCreate(req, attr, attrTimeoutS, entryTimeoutS, fh, openFlags: 1 direct_io | 2 keep_cache)
static napi_value js_reply_create(napi_env env, napi_callback_info info) {
  ARGS(6)
  fuse_req_t req = req_arg(env, argv[0]);
  struct fuse_entry_param e;
  struct fuse_file_info fi;
  if (get_entry(env, argv + 1, &e) != 0) REPLY(req, fuse_reply_err(req, EIO));
  get_open(env, argv + 4, &fi);
  REPLY(req, fuse_reply_create(req, &e, &fi));
}

// replyAttr(req, attr, attrTimeoutS)
static napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  ARGS(3)
  fuse_req_t req = req_arg(env, argv[0]);
  struct stat st;
  if (get_attr(env, argv[1], &st) != 0) REPLY(req, fuse_reply_err(req, EIO));
  REPLY(req, fuse_reply_attr(req, &st, num(env, argv[2])));
}

// replyOpen(req, fh, openFlags: 1 direct_io | 2 keep_cache)
static napi_value js_reply_open(napi_env env, napi_callback_info info) {
  ARGS(3)
  fuse_req_t req = req_arg(env, argv[0]);
  struct fuse_file_info fi;
  get_open(env, argv + 1, &fi);
  REPLY(req, fuse_reply_open(req, &fi));
}

// replyBuf(req, buffer, length)
static napi_value js_reply_buf(napi_env env, napi_callback_info info) {
  ARGS(3)
  fuse_req_t req = req_arg(env, argv[0]);
  void *data = NULL;
  size_t len = 0;
  napi_get_buffer_info(env, argv[1], &data, &len);
  size_t want = (size_t) num(env, argv[2]);
  REPLY(req, fuse_reply_buf(req, data, want < len ? want : len));
}

// replyWrite(req, count)
static napi_value js_reply_write(napi_env env, napi_callback_info info) {
  ARGS(2)
  fuse_req_t req = req_arg(env, argv[0]);
  REPLY(req, fuse_reply_write(req, (size_t) num(env, argv[1])));
}

// replyDir(req, size, names[], inos[], modes[], firstOffset) -> entries that fit (the reply is sent).
// Entry i gets the offset firstOffset + i + 1: a later READDIR at that offset continues after it.
static napi_value js_reply_dir(napi_env env, napi_callback_info info) {
  ARGS(6)
  fuse_req_t req = req_arg(env, argv[0]);
  size_t size = (size_t) num(env, argv[1]);
  double first = num(env, argv[5]);
  uint32_t n = 0;
  napi_get_array_length(env, argv[2], &n);
  char *buf = malloc(size ? size : 1);
  if (buf == NULL) REPLY(req, fuse_reply_err(req, ENOMEM));
  size_t used = 0;
  uint32_t i;
  char name[1024];
  for (i = 0; i < n; i++) {
    napi_value v;
    size_t nl;
    napi_get_element(env, argv[2], i, &v);
    if (napi_get_value_string_utf8(env, v, name, sizeof name, &nl) != napi_ok) break;
    struct stat st;
    memset(&st, 0, sizeof st);
    napi_get_element(env, argv[3], i, &v);
    st.st_ino = (ino_t) num(env, v);
    napi_get_element(env, argv[4], i, &v);
    st.st_mode = (mode_t) num(env, v);
    size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
    if (used + need > size) break;
    fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t) (first + i + 1));
    used += need;
  }
  sess_t *s = fuse_req_userdata(req);
  fuse_reply_buf(req, buf, used);
  free(buf);
  __atomic_sub_fetch(&s->unanswered, 1, __ATOMIC_RELEASE);
  teardown_if_done(env, s);
  return int_result(env, (int) i);
}

// callerContext(req) -> [uid, gid, pid, umask]; valid until the request is answered.
static napi_value js_caller(napi_env env, napi_callback_info info) {
  ARGS(1)
  const struct fuse_ctx *c = fuse_req_ctx(req_arg(env, argv[0]));
  napi_value out, v;
  napi_create_array_with_length(env, 4, &out);
  double f[4] = { c->uid, c->gid, c->pid, c->umask };
  for (int i = 0; i < 4; i++) {
    napi_create_double(env, f[i], &v);
    napi_set_element(env, out, i, v);
  }
  return out;
}

// notifyInvalInode(session, ino, offset, length) / notifyInvalEntry(session, parent, name) -> 0 or -errno.
// Prototype only: called on the JS thread (see docs/FUSE-BINDING.md 6.4 for why the agent must not).
static napi_value js_inval_inode(napi_env env, napi_callback_info info) {
  ARGS(4)
  sess_t *s;
  napi_get_value_external(env, argv[0], (void **) &s);
  if (s->end_seen) return int_result(env, -ENOTCONN);
  return int_result(env, fuse_lowlevel_notify_inval_inode(s->ch, (fuse_ino_t) num(env, argv[1]), (off_t) num(env, argv[2]), (off_t) num(env, argv[3])));
}

static napi_value js_inval_entry(napi_env env, napi_callback_info info) {
  ARGS(3)
  sess_t *s;
  napi_get_value_external(env, argv[0], (void **) &s);
  char name[1024];
  size_t len;
  napi_get_value_string_utf8(env, argv[2], name, sizeof name, &len);
  if (s->end_seen) return int_result(env, -ENOTCONN);
  return int_result(env, fuse_lowlevel_notify_inval_entry(s->ch, (fuse_ino_t) num(env, argv[1]), name, len));
}

// stats() -> [wakeups, messages]: how many requests one wakeup of the JS thread carries.
static napi_value js_stats(napi_env env, napi_callback_info info) {
  (void) info;
  napi_value out, v;
  napi_create_array_with_length(env, 2, &out);
  napi_create_double(env, wakeups, &v);
  napi_set_element(env, out, 0, v);
  napi_create_double(env, messages, &v);
  napi_set_element(env, out, 1, v);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL },
    { "replyErr", NULL, js_reply_err, NULL, NULL, NULL, napi_default, NULL },
    { "replyEntry", NULL, js_reply_entry, NULL, NULL, NULL, napi_default, NULL },
    { "replyCreate", NULL, js_reply_create, NULL, NULL, NULL, napi_default, NULL },
    { "replyAttr", NULL, js_reply_attr, NULL, NULL, NULL, napi_default, NULL },
    { "replyOpen", NULL, js_reply_open, NULL, NULL, NULL, napi_default, NULL },
    { "replyBuf", NULL, js_reply_buf, NULL, NULL, NULL, napi_default, NULL },
    { "replyWrite", NULL, js_reply_write, NULL, NULL, NULL, napi_default, NULL },
    { "replyDir", NULL, js_reply_dir, NULL, NULL, NULL, napi_default, NULL },
    { "callerContext", NULL, js_caller, NULL, NULL, NULL, napi_default, NULL },
    { "notifyInvalInode", NULL, js_inval_inode, NULL, NULL, NULL, napi_default, NULL },
    { "notifyInvalEntry", NULL, js_inval_entry, NULL, NULL, NULL, napi_default, NULL },
    { "stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
