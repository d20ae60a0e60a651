// Dispatch to JS from the addon's own threads, outside fuse-native.
//
// One napi threadsafe function per process (setDispatcher, called once by
// native-events.ts) carries messages to the JS thread: lock/flock requests from
// FUSE threads (which then wait for lockReply), and events nobody waits for
// (an interrupted request, a mount's session end, a finished invalidation).
// A FUSE thread waiting for its reply checks fuse_interrupted() every 100 ms
// (the kernel sends FUSE_INTERRUPT when the caller gets a signal, SIGKILL
// included; libfuse marks the request even without -o intr) and posts one
// EV_INTERRUPT, so JS can give up a long wait; the reply still comes from JS.
// The threadsafe function is unref'ed: it never keeps the process alive.

#include "pfs_fuse.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INTERRUPT_POLL_NS 100000000L

struct pfs_msg {
  int kind;
  double id;
  int mount_id;
  char *path;
  double fh;
  int cmd;       // lock: 0 getlk, 1 setlk, 2 setlkw; flock: 0 shared, 1 exclusive, 2 unlock
  int type;      // lock: 0 rdlck, 1 wrlck, 2 unlck; flock: nonblock (0/1)
  double start, len;
  int pid;
  uint64_t owner;
  int closing;
  uint32_t uid, gid, cpid, umask;
  int code, found;  // EV_NOTIFY_DONE
};

typedef struct lock_req {
  struct lock_req *next;
  double id;
  pthread_cond_t cv;
  int done, result;
  int type;
  double start, len;
  int pid;
} lock_req_t;

static napi_threadsafe_function dispatcher = NULL;
static pthread_mutex_t pend_mu = PTHREAD_MUTEX_INITIALIZER;
static lock_req_t *pending = NULL;
static double req_counter = 0;

// Callers hold pend_mu. Removes and returns the request, or NULL.
static lock_req_t *pending_take(double id) {
  for (lock_req_t **pp = &pending; *pp; pp = &(*pp)->next) {
    if ((*pp)->id == id) {
      lock_req_t *r = *pp;
      *pp = r->next;
      return r;
    }
  }
  return NULL;
}

static int complete(double id, int result, int type, double start, double len, int pid) {
  pthread_mutex_lock(&pend_mu);
  lock_req_t *r = pending_take(id);
  if (r != NULL) {
    r->result = result;
    r->type = type;
    r->start = start;
    r->len = len;
    r->pid = pid;
    r->done = 1;
    pthread_cond_signal(&r->cv);
  }
  pthread_mutex_unlock(&pend_mu);
  return r != NULL;
}

static void post(pfs_msg_t *m) {
  napi_threadsafe_function fn = __atomic_load_n(&dispatcher, __ATOMIC_ACQUIRE);
  if (fn == NULL || napi_call_threadsafe_function(fn, m, napi_tsfn_nonblocking) != napi_ok) {
    free(m->path);
    free(m);
  }
}

void pfs_post_event(int kind, double id, int mount_id, int code, int found) {
  pfs_msg_t *m = calloc(1, sizeof *m);
  if (m == NULL) return;
  m->kind = kind;
  m->id = id;
  m->mount_id = mount_id;
  m->code = code;
  m->found = found;
  post(m);
}

// On the FUSE thread: hand m to JS and wait for lockReply. Takes ownership of m.
int pfs_dispatch(pfs_msg_t *m, pfs_lock_out_t *out) {
  lock_req_t req = { 0 }, *r = &req;
  napi_threadsafe_function fn = __atomic_load_n(&dispatcher, __ATOMIC_ACQUIRE);
  if (fn == NULL) {
    free(m->path);
    free(m);
    return -ENOLCK;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_lock(&pend_mu);
  r->id = m->id = ++req_counter;
  r->next = pending;
  pending = r;
  pthread_mutex_unlock(&pend_mu);
  double id = r->id;
  int mount_id = m->mount_id;
  if (napi_call_threadsafe_function(fn, m, napi_tsfn_blocking) != napi_ok) {
    pthread_mutex_lock(&pend_mu);
    pending_take(id);
    pthread_mutex_unlock(&pend_mu);
    pthread_cond_destroy(&r->cv);
    free(m->path);
    free(m);
    return -ENOLCK;
  }
  int interrupt_sent = 0;
  pthread_mutex_lock(&pend_mu);
  while (!r->done) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += INTERRUPT_POLL_NS;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(&r->cv, &pend_mu, &ts);
    if (!r->done && !interrupt_sent) {
      pthread_mutex_unlock(&pend_mu);
      if (fuse_interrupted()) {
        interrupt_sent = 1;
        pfs_post_event(EV_INTERRUPT, id, mount_id, 0, 0);
      }
      pthread_mutex_lock(&pend_mu);
    }
  }
  pthread_mutex_unlock(&pend_mu);
  pthread_cond_destroy(&r->cv);
  if (out != NULL) { out->type = r->type; out->start = r->start; out->len = r->len; out->pid = r->pid; }
  return r->result;
}

pfs_msg_t *pfs_new_request(int kind, int mount_id, const char *path, const struct fuse_file_info *fi) {
  pfs_msg_t *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->path = strdup(path ? path : "");
  if (m->path == NULL) { free(m); return NULL; }
  struct fuse_context *c = fuse_get_context();
  m->kind = kind;
  m->mount_id = mount_id;
  m->fh = (double) fi->fh;
  m->owner = fi->lock_owner;
  if (c != NULL) { m->uid = c->uid; m->gid = c->gid; m->cpid = (uint32_t) c->pid; m->umask = c->umask; }
  return m;
}

void pfs_msg_set(pfs_msg_t *m, int cmd, int type, double start, double len, int pid, int closing) {
  m->cmd = cmd;
  m->type = type;
  m->start = start;
  m->len = len;
  m->pid = pid;
  m->closing = closing;
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  pfs_msg_t *m = data;
  int is_request = m->kind == EV_LOCK || m->kind == EV_FLOCK;
  if (env == NULL || js_cb == NULL) {  // tearing down: the request cannot be answered by JS
    if (is_request) complete(m->id, -EIO, 2, 0, 0, 0);
    free(m->path);
    free(m);
    return;
  }
  napi_value argv[16], undef;
  size_t argc = 3;
  napi_get_undefined(env, &undef);
  napi_create_int32(env, m->kind, &argv[0]);
  napi_create_double(env, m->id, &argv[1]);
  napi_create_int32(env, m->mount_id, &argv[2]);
  if (is_request) {
    argc = 16;
    napi_create_string_utf8(env, m->path, NAPI_AUTO_LENGTH, &argv[3]);
    napi_create_double(env, m->fh, &argv[4]);
    napi_create_int32(env, m->cmd, &argv[5]);
    napi_create_int32(env, m->type, &argv[6]);
    napi_create_double(env, m->start, &argv[7]);
    napi_create_double(env, m->len, &argv[8]);
    napi_create_int32(env, m->pid, &argv[9]);
    napi_create_bigint_uint64(env, m->owner, &argv[10]);
    napi_get_boolean(env, m->closing, &argv[11]);
    napi_create_uint32(env, m->uid, &argv[12]);
    napi_create_uint32(env, m->gid, &argv[13]);
    napi_create_uint32(env, m->cpid, &argv[14]);
    napi_create_uint32(env, m->umask, &argv[15]);
  } else if (m->kind == EV_NOTIFY_DONE) {
    argc = 5;
    napi_create_int32(env, m->code, &argv[3]);
    napi_get_boolean(env, m->found, &argv[4]);
  }
  if (napi_call_function(env, undef, js_cb, argc, argv, NULL) != napi_ok) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    if (is_request) complete(m->id, -EIO, 2, 0, 0, 0);
  }
  free(m->path);
  free(m);
}

// JS: setDispatcher(fn) -> boolean. Once per process; fn(kind, id, mountId, ...).
static napi_value set_dispatcher(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name, out;
  int ok = 0;
  if (__atomic_load_n(&dispatcher, __ATOMIC_ACQUIRE) == NULL &&
      napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1) {
    napi_threadsafe_function fn;
    napi_create_string_utf8(env, "pfs_fuse_dispatch", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &fn) == napi_ok) {
      napi_unref_threadsafe_function(env, fn);  // never keeps the process alive by itself
      __atomic_store_n(&dispatcher, fn, __ATOMIC_RELEASE);
      ok = 1;
    }
  }
  napi_get_boolean(env, ok, &out);
  return out;
}

// JS: lockReply(id, code, type, start, len, pid) -> false when the request is unknown or answered.
static napi_value lock_reply(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], out;
  double id = 0, start = 0, len = 0;
  int32_t code = -EIO, type = 2, pid = 0;
  int ok = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 6 &&
      napi_get_value_double(env, argv[0], &id) == napi_ok && napi_get_value_int32(env, argv[1], &code) == napi_ok &&
      napi_get_value_int32(env, argv[2], &type) == napi_ok && napi_get_value_double(env, argv[3], &start) == napi_ok &&
      napi_get_value_double(env, argv[4], &len) == napi_ok && napi_get_value_int32(env, argv[5], &pid) == napi_ok) {
    ok = complete(id, code > 0 ? -code : code, type, start, len, pid);
  }
  napi_get_boolean(env, ok, &out);
  return out;
}

napi_status pfs_dispatch_init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
    { "setDispatcher", NULL, set_dispatcher, NULL, NULL, NULL, napi_default, NULL },
    { "lockReply", NULL, lock_reply, NULL, NULL, NULL, napi_default, NULL },
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
