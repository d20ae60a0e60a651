// dropPageCache (pfs_native): drop a file range from the kernel's page cache
// (posix_fadvise POSIX_FADV_DONTNEED), on the libuv thread pool.
//
// Node has no fadvise. The local-directory object store writes each log
// segment once, fsyncs it, and reads it back rarely (the agent's read cache
// and the kernel's FUSE page cache hold the data it serves), so keeping object
// pages cached only crowds out useful pages; on VMs that hand free memory back
// to the host, every page cache page newly touched also costs a host fault.
// Dropping a synced object's pages frees them for the next segment at once.
//
// JS: dropPageCache(fd, offset, length, callback(errno)) -> undefined.
// errno is 0 or a positive errno; length 0 means to the end of the file.

#include "pfs_native.h"
#include <fcntl.h>
#include <stdlib.h>

typedef struct {
  napi_async_work work;
  napi_ref callback;
  int fd;
  int64_t offset, length;
  int result;
} drop_t;

static void run(napi_env env, void *data) {
  drop_t *d = data;
  d->result = posix_fadvise(d->fd, (off_t) d->offset, (off_t) d->length, POSIX_FADV_DONTNEED);
}

static void done(napi_env env, napi_status status, void *data) {
  drop_t *d = data;
  napi_value cb, global, arg;
  napi_get_reference_value(env, d->callback, &cb);
  napi_get_global(env, &global);
  napi_create_int32(env, status == napi_ok ? d->result : -1, &arg);
  napi_call_function(env, global, cb, 1, &arg, NULL);
  napi_delete_reference(env, d->callback);
  napi_delete_async_work(env, d->work);
  free(d);
}

static napi_value drop_page_cache(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_valuetype t;
  drop_t *d = calloc(1, sizeof *d);
  if (d == NULL) { napi_throw_error(env, NULL, "dropPageCache: out of memory"); return NULL; }
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 ||
      napi_get_value_int32(env, argv[0], &d->fd) != napi_ok ||
      napi_get_value_int64(env, argv[1], &d->offset) != napi_ok ||
      napi_get_value_int64(env, argv[2], &d->length) != napi_ok ||
      napi_typeof(env, argv[3], &t) != napi_ok || t != napi_function || d->fd < 0 || d->offset < 0 || d->length < 0) {
    free(d);
    napi_throw_type_error(env, NULL, "dropPageCache(fd, offset, length, callback): fd, offset, length >= 0");
    return NULL;
  }
  pfs_queue_job(env, "pfs:dropPageCache", argv[3], &d->callback, &d->work, run, done, d);
  return NULL;
}

napi_status pfs_pagecache_init(napi_env env, napi_value exports) {
  return pfs_export(env, exports, "dropPageCache", drop_page_cache);
}
