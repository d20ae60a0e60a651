// pfs_fuse_ll_notify: kernel cache invalidation by node id, and security.capability answers.
//
// FUSE_NOTIFY_INVAL_ENTRY takes the parent directory's lock in the kernel, INVAL_INODE each
// page's lock: either can wait for a request that only JS can answer (docs/FUSE-BINDING.md
// 6.4). So JS never writes a notification itself: notifyInval*(session, id, ...) queues a job
// and returns; the session's notifier thread (started on first use, not the libuv pool) calls
// fuse_lowlevel_notify_inval_*, and the result reaches JS through a threadsafe function as
// done(id, 0 | -errno). Teardown (after the kernel ended the session) stops and joins it before
// the channel is closed; jobs still queued then finish with -ENOTCONN.
//
// The capability set: node ids JS marked with markCapabilityAbsent; getxattr of
// security.capability on them is answered ENODATA by the handler (pfs_fuse_ll_ops.c) on the
// reading thread, without a message to JS.

#include "pfs_fuse_ll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct njob {
  struct njob *next;
  int entry;             // 0: inval_inode(ino, off, len); 1: inval_entry(ino = parent, name)
  uint64_t ino;
  off_t off, len;
  char *name;
  size_t namelen;
  double id;
  int result;
};

static void *notify_main(void *arg) {
  sess_t *s = arg;
  pthread_mutex_lock(&s->nmu);
  for (;;) {
    while (s->nhead == NULL && !s->nstop) pthread_cond_wait(&s->ncond, &s->nmu);
    njob_t *j = s->nhead;
    if (j == NULL) break;  // stopping, nothing left
    s->nhead = j->next;
    if (s->nhead == NULL) s->ntail = NULL;
    int stop = s->nstop;
    pthread_mutex_unlock(&s->nmu);
    if (stop) j->result = -ENOTCONN;
    else if (j->entry) j->result = fuse_lowlevel_notify_inval_entry(s->ch, j->ino, j->name, j->namelen);
    else j->result = fuse_lowlevel_notify_inval_inode(s->ch, j->ino, j->off, j->len);
    napi_call_threadsafe_function(s->ntsfn, j, napi_tsfn_blocking);
    pthread_mutex_lock(&s->nmu);
  }
  pthread_mutex_unlock(&s->nmu);
  return NULL;
}

static void call_done(napi_env env, napi_value done, void *context, void *data) {
  (void) context;
  njob_t *j = data;
  if (env != NULL) {
    napi_value undef, argv[2], ignored;
    napi_get_undefined(env, &undef);
    napi_create_double(env, j->id, &argv[0]);
    napi_create_int32(env, j->result, &argv[1]);
    napi_call_function(env, undef, done, 2, argv, &ignored);
  }
  free(j->name);
  free(j);
}

void notify_init(napi_env env, sess_t *s, napi_value done_cb) {
  pthread_mutex_init(&s->nmu, NULL);
  pthread_cond_init(&s->ncond, NULL);
  pthread_mutex_init(&s->caps.mu, NULL);
  napi_value name;
  napi_create_string_utf8(env, "pfs_fuse_ll_notify", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, done_cb, NULL, name, 0, 1, NULL, NULL, s, call_done, &s->ntsfn);
  napi_unref_threadsafe_function(env, s->ntsfn);  // the mount keeps the process alive, not this
}

void notify_stop(sess_t *s) {
  pthread_mutex_lock(&s->nmu);
  s->nstop = 1;
  pthread_cond_signal(&s->ncond);
  int started = s->nstarted;
  pthread_mutex_unlock(&s->nmu);
  if (started) pthread_join(s->nthread, NULL);
  napi_release_threadsafe_function(s->ntsfn, napi_tsfn_release);
}

static int enqueue(sess_t *s, njob_t *j) {
  pthread_mutex_lock(&s->nmu);
  if (!s->nstarted) {
    if (pthread_create(&s->nthread, NULL, notify_main, s) != 0) { pthread_mutex_unlock(&s->nmu); return -EAGAIN; }
    s->nstarted = 1;
  }
  if (s->ntail) s->ntail->next = j; else s->nhead = j;
  s->ntail = j;
  pthread_cond_signal(&s->ncond);
  pthread_mutex_unlock(&s->nmu);
  return 0;
}

static sess_t *session_arg(napi_env env, napi_value v) {
  sess_t *s = NULL;
  napi_get_value_external(env, v, (void **) &s);
  return s;
}

// notifyInvalInode(session, id, ino, offset, length) -> 0 (queued: done(id, result) follows) or -errno.
static napi_value js_inval_inode(napi_env env, napi_callback_info info) {
  ARGS(5)
  sess_t *s = session_arg(env, argv[0]);
  if (s == NULL || s->end_seen || s->torn_down) return ll_int(env, -ENOTCONN);
  njob_t *j = calloc(1, sizeof *j);
  if (j == NULL) return ll_int(env, -ENOMEM);
  j->id = ll_num(env, argv[1]);
  j->ino = (uint64_t) ll_num(env, argv[2]);
  j->off = (off_t) ll_num(env, argv[3]);
  j->len = (off_t) ll_num(env, argv[4]);
  int r = enqueue(s, j);
  if (r != 0) free(j);
  return ll_int(env, r);
}

// notifyInvalEntry(session, id, parent, name) -> as notifyInvalInode.
static napi_value js_inval_entry(napi_env env, napi_callback_info info) {
  ARGS(4)
  sess_t *s = session_arg(env, argv[0]);
  if (s == NULL || s->end_seen || s->torn_down) return ll_int(env, -ENOTCONN);
  njob_t *j = calloc(1, sizeof *j);
  size_t len = 0;
  napi_get_value_string_utf8(env, argv[3], NULL, 0, &len);
  if (j == NULL || (j->name = malloc(len + 1)) == NULL) { free(j); return ll_int(env, -ENOMEM); }
  napi_get_value_string_utf8(env, argv[3], j->name, len + 1, &j->namelen);
  j->entry = 1;
  j->id = ll_num(env, argv[1]);
  j->ino = (uint64_t) ll_num(env, argv[2]);
  int r = enqueue(s, j);
  if (r != 0) { free(j->name); free(j); }
  return ll_int(env, r);
}

// ---- the capability set: open addressing, linear probing, backward-shift deletion ----

static size_t home(uint64_t k, size_t cap) { return (size_t) ((k * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1); }

static size_t probe(const capset_t *c, uint64_t k) {
  size_t i = home(k, c->cap);
  while (c->keys[i] != 0 && c->keys[i] != k) i = (i + 1) & (c->cap - 1);
  return i;
}

int capset_answer(capset_t *c, uint64_t ino) {
  pthread_mutex_lock(&c->mu);
  int found = c->count > 0 && c->keys[probe(c, ino)] == ino;
  if (found) c->answers++;
  pthread_mutex_unlock(&c->mu);
  return found;
}

static int capset_add(capset_t *c, uint64_t k) {
  if ((c->count + 1) * 2 > c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 64;
    uint64_t *nk = calloc(ncap, sizeof *nk);
    if (nk == NULL) return -ENOMEM;
    capset_t grown = { .keys = nk, .cap = ncap };
    for (size_t i = 0; i < c->cap; i++) if (c->keys[i]) nk[probe(&grown, c->keys[i])] = c->keys[i];
    free(c->keys);
    c->keys = nk;
    c->cap = ncap;
  }
  size_t i = probe(c, k);
  if (c->keys[i] == 0) { c->keys[i] = k; c->count++; }
  return 0;
}

static void capset_remove(capset_t *c, uint64_t k) {
  if (c->count == 0) return;
  size_t i = probe(c, k);
  if (c->keys[i] != k) return;
  c->keys[i] = 0;
  c->count--;
  // Move back every later key of the run whose home is not between the hole and it.
  for (size_t j = (i + 1) & (c->cap - 1); c->keys[j] != 0; j = (j + 1) & (c->cap - 1)) {
    size_t h = home(c->keys[j], c->cap);
    if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
      c->keys[i] = c->keys[j];
      c->keys[j] = 0;
      i = j;
    }
  }
}

// markCapabilityAbsent(session, ino) / clearCapability(session, ino) -> 0 or -errno
static napi_value js_cap_mark(napi_env env, napi_callback_info info) {
  ARGS(2)
  sess_t *s = session_arg(env, argv[0]);
  uint64_t ino = (uint64_t) ll_num(env, argv[1]);
  if (s == NULL || ino == 0) return ll_int(env, -EINVAL);
  pthread_mutex_lock(&s->caps.mu);
  int r = capset_add(&s->caps, ino);
  pthread_mutex_unlock(&s->caps.mu);
  return ll_int(env, r);
}

static napi_value js_cap_clear(napi_env env, napi_callback_info info) {
  ARGS(2)
  sess_t *s = session_arg(env, argv[0]);
  if (s == NULL) return ll_int(env, -EINVAL);
  pthread_mutex_lock(&s->caps.mu);
  capset_remove(&s->caps, (uint64_t) ll_num(env, argv[1]));
  pthread_mutex_unlock(&s->caps.mu);
  return ll_int(env, 0);
}

// capabilityAnswers(session) -> how many getxattr(security.capability) were answered here.
static napi_value js_cap_answers(napi_env env, napi_callback_info info) {
  ARGS(1)
  sess_t *s = session_arg(env, argv[0]);
  double n = 0;
  if (s) { pthread_mutex_lock(&s->caps.mu); n = s->caps.answers; pthread_mutex_unlock(&s->caps.mu); }
  napi_value out;
  napi_create_double(env, n, &out);
  return out;
}

napi_status ll_notify_props(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "notifyInvalInode", NULL, js_inval_inode, NULL, NULL, NULL, napi_default, NULL },
    { "notifyInvalEntry", NULL, js_inval_entry, NULL, NULL, NULL, napi_default, NULL },
    { "markCapabilityAbsent", NULL, js_cap_mark, NULL, NULL, NULL, napi_default, NULL },
    { "clearCapability", NULL, js_cap_clear, NULL, NULL, NULL, napi_default, NULL },
    { "capabilityAnswers", NULL, js_cap_answers, NULL, NULL, NULL, napi_default, NULL },
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
