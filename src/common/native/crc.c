// crc32Blocks: the CRC32 (zlib's) of each block of a buffer, on the libuv thread pool.
//
// The agent hashes every byte it writes (CRC32 per checksum block of a log segment). On the
// main thread that is ~0.17 ms per MiB, all of it between a FUSE write's arrival and the next
// one's; here it runs on a pool thread, on another core, while the main thread answers the
// next request. zlib is Node's own (crc32_z, exported by the node binary for addons).
//
// JS: crc32Blocks(buf, blockSize, callback(crcs: number[])) -> undefined.
// One CRC per blockSize bytes of buf, the last block short; the buffer is kept alive (and
// must not change) until the callback.

#include "pfs_native.h"
#include <stdint.h>
#include <stdlib.h>

extern unsigned long crc32_z(unsigned long crc, const unsigned char *buf, size_t len);

typedef struct {
  napi_async_work work;
  napi_ref callback, buffer;
  const unsigned char *data;
  size_t length, block;
  uint32_t *crcs;
  size_t count;
} crc_job_t;

static void run(napi_env env, void *data) {
  crc_job_t *j = data;
  for (size_t i = 0, off = 0; i < j->count; i++, off += j->block) {
    size_t n = j->length - off < j->block ? j->length - off : j->block;
    j->crcs[i] = (uint32_t) crc32_z(0, j->data + off, n);
  }
}

static void done(napi_env env, napi_status status, void *data) {
  crc_job_t *j = data;
  napi_value cb, global, arr;
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  napi_create_array_with_length(env, j->count, &arr);
  for (size_t i = 0; i < j->count; i++) {
    napi_value v;
    napi_create_uint32(env, j->crcs[i], &v);
    napi_set_element(env, arr, (uint32_t) i, v);
  }
  napi_delete_reference(env, j->buffer);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free(j->crcs);
  free(j);
  napi_call_function(env, global, cb, 1, &arr, NULL);
}

static napi_value crc32_blocks(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_valuetype t;
  void *data = NULL;
  size_t length = 0;
  uint32_t block = 0;
  bool is_buffer = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &block) != napi_ok || block == 0 ||
      napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "crc32Blocks(buffer, blockSize > 0, callback)");
    return NULL;
  }
  crc_job_t *j = calloc(1, sizeof *j);
  size_t count = (length + block - 1) / block;
  uint32_t *crcs = calloc(count ? count : 1, sizeof *crcs);
  if (j == NULL || crcs == NULL) {
    free(j);
    free(crcs);
    napi_throw_error(env, NULL, "crc32Blocks: out of memory");
    return NULL;
  }
  j->data = data;
  j->length = length;
  j->block = block;
  j->count = count;
  j->crcs = crcs;
  napi_create_reference(env, argv[0], 1, &j->buffer);
  pfs_queue_job(env, "pfs:crc32Blocks", argv[2], &j->callback, &j->work, run, done, j);
  return NULL;
}

napi_status pfs_crc_init(napi_env env, napi_value exports) {
  return pfs_export(env, exports, "crc32Blocks", crc32_blocks);
}
