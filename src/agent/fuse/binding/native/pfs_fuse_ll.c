// pfs_fuse_ll: the inode-based FUSE session (docs/FUSE-BINDING.md part 8): libfuse 2.9's
// low-level API, nothing of fuse-native. fuse_mount() gives the /dev/fuse channel,
// fuse_lowlevel_new() a session whose handlers (pfs_fuse_ll_ops.c) copy each request into a
// message and queue it; they never wait. Who reads /dev/fuse:
//   'poll' (default): the JS thread. The descriptor is non-blocking and watched by a uv_poll_t;
//          when readable, on_readable() does what fuse_session_loop does (receive, process)
//          until EAGAIN, then dispatches the queue inside a napi callback scope.
//   'thread': a loop thread runs fuse_session_loop(); the first message of an empty queue wakes
//          the JS thread (a threadsafe function: one uv_async wakeup per batch).
// Each message becomes one call dispatch(op, id, ino, fh, x, y, name, name2, data, interrupted).
// JS answers whenever it likes through reply*(id, ...) (pfs_fuse_ll_reply.c: requests are
// named by slot id and generation, never by pointer). FORGET and BATCH_FORGET are answered on
// the reading thread and only reported. When the kernel ends the connection (unmount), END is
// queued after every request; the session is torn down (notifier joined, fuse_unmount, which
// only closes the fd when the mount is already gone, fuse_session_destroy) once END was seen and
// no request is unanswered. The sess_t itself is never freed (a few hundred bytes a mount):
// late calls naming it (a stale notification, a capability mark) stay safe.

#include "pfs_fuse_ll.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Process-wide counters (JS thread only): wakeups of the JS thread and messages they carried.
static double wakeups, messages;

void ll_push(sess_t *s, msg_t *m) {
  if (m == NULL) return;
  if (m->is_request) __atomic_add_fetch(&s->unanswered, 1, __ATOMIC_RELAXED);
  pthread_mutex_lock(&s->mu);
  int was_empty = s->head == NULL;
  if (s->tail) s->tail->next = m; else s->head = m;
  s->tail = m;
  pthread_mutex_unlock(&s->mu);
  if (was_empty && !s->poll_mode) napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
}

int ll_wpool_take(sess_t *s, size_t size) {
  if (size > s->wsize) return -1;
  int slot = -1;
  pthread_mutex_lock(&s->wmu);
  for (int i = 0; i < WPOOL_SLOTS; i++) {
    if (s->wmem[i] != NULL && !s->wbusy[i]) { s->wbusy[i] = 1; slot = i; break; }
  }
  pthread_mutex_unlock(&s->wmu);
  return slot;
}

void ll_wpool_release(sess_t *s, int slot) {
  if (slot < 0 || slot >= WPOOL_SLOTS) return;
  pthread_mutex_lock(&s->wmu);
  s->wbusy[slot] = 0;
  pthread_mutex_unlock(&s->wmu);
}

// The pool's slots: JS ArrayBuffers of wsize bytes (their memory V8's, pinned by wref).
static void wpool_init(napi_env env, sess_t *s, size_t wsize) {
  pthread_mutex_init(&s->wmu, NULL);
  s->wsize = wsize;
  for (int i = 0; i < WPOOL_SLOTS; i++) {
    napi_value ab;
    void *mem = NULL;
    if (napi_create_arraybuffer(env, wsize, &mem, &ab) != napi_ok || mem == NULL) break;
    napi_create_reference(env, ab, 1, &s->wref[i]);
    s->wmem[i] = mem;
  }
}

static void wpool_free(napi_env env, sess_t *s) {
  pthread_mutex_lock(&s->wmu);
  for (int i = 0; i < WPOOL_SLOTS; i++) {
    if (s->wmem[i] == NULL) continue;
    napi_delete_reference(env, s->wref[i]);  // views JS still holds keep the memory alive
    s->wmem[i] = NULL;
  }
  pthread_mutex_unlock(&s->wmu);
}

static msg_t *end_msg(void) {
  msg_t *m = calloc(1, sizeof *m);
  if (m) m->op = OP_END;
  return m;
}

static void *loop_main(void *arg) {
  sess_t *s = arg;
  fuse_session_loop(s->se);
  ll_push(s, end_msg());
  return NULL;
}

static void free_buffer(napi_env env, void *data, void *hint) { (void) env; (void) hint; free(data); }

void ll_teardown_if_done(napi_env env, sess_t *s) {
  if (!s->end_seen || s->torn_down || s->in_poll || __atomic_load_n(&s->unanswered, __ATOMIC_ACQUIRE) != 0) return;
  s->torn_down = 1;
  if (s->poll_mode) {
    uv_close((uv_handle_t *) &s->poll, NULL);  // s stays allocated, so the handle may outlive this
    napi_async_destroy(env, s->actx);
    napi_delete_reference(env, s->resource);
    free(s->buf);
  } else {
    pthread_join(s->thread, NULL);
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  }
  wpool_free(env, s);
  notify_stop(s);  // before the channel goes: the notifier writes on it
  // fuse_mount's channel closes the fd (only when the mount is already gone, else it unmounts);
  // the own channel, if any, goes with the session and closes nothing.
  fuse_unmount(s->mnt, s->kch ? s->kch : s->ch);
  fuse_session_destroy(s->se);
  napi_delete_reference(env, s->dispatch);
}

static napi_value data_value(napi_env env, sess_t *s, msg_t *m) {
  napi_value v, ab;
  if (m->wslot) {  // a view of the write-pool slot: a Uint8Array JS turns into a Buffer view
    if (napi_get_reference_value(env, s->wref[m->wslot - 1], &ab) == napi_ok &&
        napi_create_typedarray(env, napi_uint8_array, m->data_len, ab, 0, &v) == napi_ok) return v;
    napi_get_undefined(env, &v);
    return v;
  }
  if (m->data == NULL) { napi_get_undefined(env, &v); return v; }
  if (m->data_bytes) {
    if (napi_create_external_buffer(env, m->data_len, m->data, free_buffer, NULL, &v) == napi_ok) { m->data = NULL; return v; }
  } else if (napi_create_external_arraybuffer(env, m->data, m->data_len, free_buffer, NULL, &ab) == napi_ok) {
    m->data = NULL;
    napi_create_typedarray(env, napi_float64_array, m->data_len / sizeof(double), ab, 0, &v);
    return v;
  }
  napi_get_undefined(env, &v);
  return v;
}

static napi_value str_value(napi_env env, const char *str) {
  napi_value v;
  if (str) napi_create_string_utf8(env, str, NAPI_AUTO_LENGTH, &v);
  else napi_get_undefined(env, &v);
  return v;
}

// One wakeup: every queued message becomes one call of the JS dispatcher.
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
    // An interrupt that came before JS had the request is handed over with it.
    int interrupted = m->is_request ? slot_dispatched(m->id) : 0;
    napi_value argv[10];
    napi_create_int32(env, m->op, &argv[0]);
    napi_create_double(env, m->id, &argv[1]);
    napi_create_double(env, (double) m->ino, &argv[2]);
    napi_create_double(env, (double) m->fh, &argv[3]);
    napi_create_double(env, m->x, &argv[4]);
    napi_create_double(env, m->y, &argv[5]);
    argv[6] = str_value(env, m->name);
    argv[7] = str_value(env, m->name2);
    argv[8] = data_value(env, s, m);
    napi_get_boolean(env, interrupted, &argv[9]);
    if (m->op == OP_END) s->end_seen = 1;
    napi_value ignored;
    if (napi_call_function(env, undef, dispatch, 10, argv, &ignored) == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    napi_close_handle_scope(env, scope);
    free(m->name);
    free(m->name2);
    free(m->data);
    free(m);
    m = next;
  }
  ll_teardown_if_done(env, s);
}

static void call_js(napi_env env, napi_value fn, void *context, void *data) {
  (void) fn; (void) data;
  if (env != NULL) dispatch_queue(env, context);
}

// Poll reader: drain /dev/fuse through libfuse (as fuse_session_loop does, until EAGAIN), then
// run the handlers in a callback scope (promise jobs and nextTicks run after them).
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
    ll_push(s, end_msg());
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
  ll_teardown_if_done(env, s);
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

// mount(mountPoint, optionArg, dispatch, notifyDone, pollMode, features, maxRequest) -> session
// (external). optionArg "-o..." holds mount options (taken by fuse_mount) and low-level ones (by
// fuse_lowlevel_new); features: FEAT_* (which lock handlers JS has); maxRequest: above 131072
// the own channel offers requests that large (pfs_fuse_ll_chan.c).
// Throws on failure.
static napi_value js_mount(napi_env env, napi_callback_info info) {
  ARGS(7)
  char mnt[4096], opt[1024];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], mnt, sizeof mnt, &len) != napi_ok || len >= sizeof mnt - 1 ||
      napi_get_value_string_utf8(env, argv[1], opt, sizeof opt, &len) != napi_ok || len >= sizeof opt - 1) {
    napi_throw_type_error(env, NULL, "mount point or options too long");
    return NULL;
  }
  bool poll_mode = false;
  napi_get_value_bool(env, argv[4], &poll_mode);
  struct fuse_lowlevel_ops ops;
  ll_make_ops(&ops, (int) ll_num(env, argv[5]));
  sess_t *s = calloc(1, sizeof *s);
  if (s == NULL || (s->mnt = strdup(mnt)) == NULL) {
    free(s);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
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
    napi_throw_error(env, "EIO", "fuse_mount failed (see stderr)");
    return NULL;
  }
  s->se = fuse_lowlevel_new(&args, &ops, sizeof ops, s);
  fuse_opt_free_args(&args);
  if (s->se == NULL) {
    fuse_unmount(mnt, s->ch);
    napi_throw_error(env, "EINVAL", "fuse_lowlevel_new failed (unknown option?)");
    return NULL;
  }
  double max_request = ll_num(env, argv[6]);
  wpool_init(env, s, max_request > 131072 && max_request <= 16 * 1024 * 1024 ? (size_t) max_request : 131072);
  if (max_request > 131072 && max_request <= 16 * 1024 * 1024) {
    struct fuse_chan *own = ll_chan_new(s, fuse_chan_fd(s->ch), (size_t) max_request);
    if (own != NULL) {
      s->kch = s->ch;
      s->ch = own;
      s->max_request = (uint32_t) max_request;
    }
  }
  fuse_session_add_chan(s->se, s->ch);
  notify_init(env, s, argv[3]);
  napi_value name;
  napi_create_string_utf8(env, "pfs_fuse_ll", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[2], 1, &s->dispatch);
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

// releaseWrite(session, slot): JS answered the WRITE whose payload was in write-pool slot.
static napi_value js_release_write(napi_env env, napi_callback_info info) {
  ARGS(2)
  sess_t *s = NULL;
  napi_get_value_external(env, argv[0], (void **) &s);
  if (s != NULL) ll_wpool_release(s, (int) ll_num(env, argv[1]));
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

// negotiated(session) -> the request size the INIT reply offered with FUSE_MAX_PAGES (bytes), 0 if none.
static napi_value js_negotiated(napi_env env, napi_callback_info info) {
  ARGS(1)
  sess_t *s = NULL;
  napi_get_value_external(env, argv[0], (void **) &s);
  napi_value out;
  napi_create_double(env, s ? s->negotiated : 0, &out);
  return out;
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
    { "stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL },
    { "negotiated", NULL, js_negotiated, NULL, NULL, NULL, napi_default, NULL },
    { "releaseWrite", NULL, js_release_write, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  ll_reply_props(env, exports);
  ll_notify_props(env, exports);
  return exports;
}
