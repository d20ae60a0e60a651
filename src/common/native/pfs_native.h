// pfs_native: small native helpers of the common code (one .node, built by build.mjs):
//  pagecache.c  dropPageCache: posix_fadvise(DONTNEED) on the thread pool
//  crc.c        crc32Blocks: block CRC32s on the thread pool
//  sockdiag.c   tcpPeerUid: the owner of a local TCP socket, by four-tuple (netlink sock_diag)
//  module.c     the module entry
#ifndef PFS_NATIVE_H
#define PFS_NATIVE_H
#define _GNU_SOURCE
#include <node_api.h>
// Queues run (pool thread) then done (JS thread) for data, named name; keeps callback alive in *cb.
void pfs_queue_job(napi_env env, const char *name, napi_value callback, napi_ref *cb, napi_async_work *work,
                   napi_async_execute_callback run, napi_async_complete_callback done, void *data);
// Sets exports[name] to a function calling fn.
napi_status pfs_export(napi_env env, napi_value exports, const char *name, napi_callback fn);
napi_status pfs_pagecache_init(napi_env env, napi_value exports);
napi_status pfs_crc_init(napi_env env, napi_value exports);
napi_status pfs_sockdiag_init(napi_env env, napi_value exports);
#endif
