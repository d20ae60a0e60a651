// The pfs_native module entry (see pfs_native.h).
#include "pfs_native.h"

void pfs_queue_job(napi_env env, const char *name, napi_value callback, napi_ref *cb, napi_async_work *work,
                   napi_async_execute_callback run, napi_async_complete_callback done, void *data) {
  napi_value n;
  napi_create_reference(env, callback, 1, cb);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &n);
  napi_create_async_work(env, NULL, n, run, done, data, work);
  napi_queue_async_work(env, *work);
}

napi_status pfs_export(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  napi_status s = napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  return s != napi_ok ? s : napi_set_named_property(env, exports, name, f);
}

static napi_value init(napi_env env, napi_value exports) {
  if (pfs_pagecache_init(env, exports) != napi_ok || pfs_crc_init(env, exports) != napi_ok ||
      pfs_sockdiag_init(env, exports) != napi_ok) {
    napi_throw_error(env, NULL, "pfs_native: init failed");
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
