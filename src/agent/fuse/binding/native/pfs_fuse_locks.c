// lock and flock: libfuse 2.9 high-level ops that fuse-native never sets.
//
// fuse_new (pfs_fuse_context.c) puts pfs_tr_lock/pfs_tr_flock in the op table
// of a mount whose JS ops have lock/flock handlers. With op.lock set, libfuse
// keeps getlk/setlk in its low-level table and INIT advertises
// FUSE_CAP_POSIX_LOCKS; with op.flock set it advertises FUSE_CAP_FLOCK_LOCKS
// (fuse_fs_init clears each capability when the op is NULL). The kernel then
// sends every fcntl/flock lock request to the filesystem instead of keeping it
// local.
//
// These ops run on a FUSE worker thread. They do not go through fuse-native:
// each request is handed to JS by pfs_fuse_dispatch.c, and the worker waits
// until JS answers. A waiting F_SETLKW therefore holds one worker thread and
// nothing else (libfuse starts another worker when none is idle).
//
// Release: libfuse 2.9 calls op.lock(F_SETLK, F_UNLCK, whole file) with the
// flush's lock owner at every FLUSH (each close(2)) and at a RELEASE with the
// flush flag (fuse_flush_common). To keep closes of never-locked files free,
// this file remembers (session, node, owner, handle) once a setlk/setlkw of a
// read or write lock was asked, and only forwards the close-time unlock for
// those. The FLUSH's owner is the closing process's (its file table), so it
// never matches an open file description lock (F_OFD_SETLK: the owner is the
// file description, and the kernel sends no unlock for it at all): for a
// RELEASE (last close of the description) of a handle an owner locked through,
// fuse_session_process_buf sets FUSE_RELEASE_FLUSH and that owner in the
// request (pfs_lock_owner_for_fh), so libfuse runs its own close-time unlock for
// it (op.flush, then op.lock F_UNLCK) and also drops it from the lock table it
// answers F_GETLK from; pfs_release_locks sends any owner still left. For
// flock, the kernel sets FUSE_RELEASE_FLOCK_UNLOCK on the last release of a file
// description that used flock; libfuse 2.9 only passes fi->flock_release to
// op.release, so the release trampoline forwards a LOCK_UN first
// (pfs_release_flock).

#include "pfs_fuse.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#define MAX_EXACT_DOUBLE 9007199254740991.0  // 2^53 - 1: offsets beyond are not exact in JS
#define OWNER_BUCKETS 1024

// ---- (session, node, owner) that asked for a POSIX lock: their close-time unlock goes to JS ----

typedef struct owner_rec {
  struct owner_rec *next;
  const struct fuse_session *se;
  uint64_t nodeid, owner;
  uint64_t fh;  // the handle it locked through (the last one)
} owner_rec_t;

static owner_rec_t *owners[OWNER_BUCKETS];
static pthread_mutex_t owners_mu = PTHREAD_MUTEX_INITIALIZER;

// Buckets by (session, node): a FLUSH looks up by owner, a RELEASE by handle, both in one chain.
static owner_rec_t **owner_bucket(const struct fuse_session *se, uint64_t nodeid) {
  uint64_t h = (nodeid * 0x9E3779B97F4A7C15ull) ^ (uint64_t) (uintptr_t) se;
  return &owners[(h ^ (h >> 29)) % OWNER_BUCKETS];
}

static owner_rec_t **owner_find(const struct fuse_session *se, uint64_t nodeid, uint64_t owner) {
  owner_rec_t **pp = owner_bucket(se, nodeid);
  while (*pp && !((*pp)->se == se && (*pp)->nodeid == nodeid && (*pp)->owner == owner)) pp = &(*pp)->next;
  return pp;
}

static void owner_note(const struct fuse_session *se, uint64_t nodeid, uint64_t owner, uint64_t fh) {
  pthread_mutex_lock(&owners_mu);
  owner_rec_t **pp = owner_find(se, nodeid, owner);
  if (*pp == NULL && (*pp = calloc(1, sizeof **pp)) != NULL) {
    (*pp)->se = se;
    (*pp)->nodeid = nodeid;
    (*pp)->owner = owner;
  }
  if (*pp != NULL) (*pp)->fh = fh;
  pthread_mutex_unlock(&owners_mu);
}

int pfs_lock_owner_for_fh(const struct fuse_session *se, uint64_t nodeid, uint64_t fh, uint64_t *owner) {
  pthread_mutex_lock(&owners_mu);
  owner_rec_t *rec = *owner_bucket(se, nodeid);
  while (rec && !(rec->se == se && rec->nodeid == nodeid && rec->fh == fh)) rec = rec->next;
  if (rec != NULL) *owner = rec->owner;
  pthread_mutex_unlock(&owners_mu);
  return rec != NULL;
}

// Removes one record locked through fh; returns 1 and its owner, or 0.
static int owner_take_by_fh(const struct fuse_session *se, uint64_t nodeid, uint64_t fh, uint64_t *owner) {
  pthread_mutex_lock(&owners_mu);
  owner_rec_t **pp = owner_bucket(se, nodeid);
  while (*pp && !((*pp)->se == se && (*pp)->nodeid == nodeid && (*pp)->fh == fh)) pp = &(*pp)->next;
  owner_rec_t *rec = *pp;
  if (rec != NULL) {
    *pp = rec->next;
    *owner = rec->owner;
  }
  pthread_mutex_unlock(&owners_mu);
  free(rec);
  return rec != NULL;
}

static int owner_take(const struct fuse_session *se, uint64_t nodeid, uint64_t owner) {
  pthread_mutex_lock(&owners_mu);
  owner_rec_t **pp = owner_find(se, nodeid, owner);
  owner_rec_t *rec = *pp;
  if (rec != NULL) *pp = rec->next;
  pthread_mutex_unlock(&owners_mu);
  free(rec);
  return rec != NULL;
}

void pfs_locks_session_reset(const struct fuse_session *se) {
  pthread_mutex_lock(&owners_mu);
  for (size_t b = 0; b < OWNER_BUCKETS; b++) {
    for (owner_rec_t **pp = &owners[b]; *pp;) {
      owner_rec_t *rec = *pp;
      if (rec->se == se) { *pp = rec->next; free(rec); }
      else pp = &rec->next;
    }
  }
  pthread_mutex_unlock(&owners_mu);
}

// ---- trampolines (FUSE threads) ----

int pfs_tr_lock(const char *path, struct fuse_file_info *fi, int cmd, struct flock *lk) {
  struct fuse_context *c = fuse_get_context();
  unsigned installed;
  int mount_id = pfs_mount_for_fuse(c ? c->fuse : NULL, &installed);
  // libfuse's fuse_flush_common: FLUSH (and RELEASE with the flush flag) unlock the owner's locks.
  int closing = (cur_opcode == K_FLUSH || cur_opcode == K_RELEASE) && cmd == F_SETLK && lk->l_type == F_UNLCK;
  if (closing && !owner_take(cur_se, cur_nodeid, fi->lock_owner)) return 0;
  if (mount_id == 0 || !(installed & PFS_WANT_LOCK)) return closing ? 0 : -ENOLCK;

  int jcmd = cmd == F_GETLK ? 0 : cmd == F_SETLK ? 1 : cmd == F_SETLKW ? 2 : -1;
  int jtype = lk->l_type == F_RDLCK ? 0 : lk->l_type == F_WRLCK ? 1 : lk->l_type == F_UNLCK ? 2 : -1;
  if (jcmd < 0 || jtype < 0 || lk->l_whence != SEEK_SET) return -EINVAL;  // libfuse always sends SEEK_SET
  if (lk->l_start < 0 || lk->l_len < 0 || (double) lk->l_start > MAX_EXACT_DOUBLE || (double) lk->l_len > MAX_EXACT_DOUBLE) return -EOVERFLOW;
  if (!closing && jcmd != 0 && jtype != 2) owner_note(cur_se, cur_nodeid, fi->lock_owner, fi->fh);

  pfs_msg_t *m = pfs_new_request(EV_LOCK, mount_id, path, fi);
  if (m == NULL) return -ENOMEM;
  pfs_msg_set(m, jcmd, jtype, (double) lk->l_start, (double) lk->l_len, (int) lk->l_pid, closing);
  pfs_lock_out_t r;
  int res = pfs_dispatch(m, &r);
  if (res == 0 && jcmd == 0) {
    // getlk: the conflicting lock, or F_UNLCK for none (the binding checked the values).
    lk->l_whence = SEEK_SET;
    lk->l_type = r.type == 0 ? F_RDLCK : r.type == 1 ? F_WRLCK : F_UNLCK;
    if (lk->l_type != F_UNLCK) {
      lk->l_start = (off_t) r.start;
      lk->l_len = (off_t) r.len;
      lk->l_pid = r.pid;
    }
  }
  return res;
}

static int flock_dispatch(const char *path, struct fuse_file_info *fi, int op, int closing) {
  struct fuse_context *c = fuse_get_context();
  unsigned installed;
  int mount_id = pfs_mount_for_fuse(c ? c->fuse : NULL, &installed);
  if (mount_id == 0 || !(installed & PFS_WANT_FLOCK)) return -ENOLCK;
  int base = op & ~LOCK_NB;
  int jop = base == LOCK_SH ? 0 : base == LOCK_EX ? 1 : base == LOCK_UN ? 2 : -1;
  if (jop < 0) return -EINVAL;
  pfs_msg_t *m = pfs_new_request(EV_FLOCK, mount_id, path, fi);
  if (m == NULL) return -ENOMEM;
  pfs_msg_set(m, jop, (op & LOCK_NB) ? 1 : 0, 0, 0, 0, closing);
  return pfs_dispatch(m, NULL);
}

int pfs_tr_flock(const char *path, struct fuse_file_info *fi, int op) {
  return flock_dispatch(path, fi, op, 0);
}

void pfs_release_flock(const char *path, struct fuse_file_info *fi) {
  if (fi != NULL && fi->flock_release) flock_dispatch(path, fi, LOCK_UN, 1);
}

void pfs_release_locks(const char *path, struct fuse_file_info *fi) {
  uint64_t owner;
  if (fi == NULL) return;
  while (owner_take_by_fh(cur_se, cur_nodeid, fi->fh, &owner)) {
    struct fuse_context *c = fuse_get_context();
    unsigned installed;
    int mount_id = pfs_mount_for_fuse(c ? c->fuse : NULL, &installed);
    if (mount_id == 0 || !(installed & PFS_WANT_LOCK)) return;
    struct fuse_file_info as_owner = *fi;
    as_owner.lock_owner = owner;
    pfs_msg_t *m = pfs_new_request(EV_LOCK, mount_id, path, &as_owner);
    if (m == NULL) return;
    pfs_msg_set(m, 1 /* setlk */, 2 /* unlck */, 0, 0 /* whole file */, 0, 1);
    pfs_dispatch(m, NULL);
  }
}
