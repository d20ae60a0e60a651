// Requests larger than 128 KiB (FUSE_MAX_PAGES) under libfuse 2.9.
//
// Since Linux 4.20 the kernel sends reads and writes of up to max_pages pages
// (256 = 1 MiB by default, fs.fuse.max_pages_limit) when the INIT reply sets
// FUSE_MAX_PAGES and max_pages. libfuse 2.9 speaks protocol 7.19: its INIT
// reply is the 24-byte fuse_init_out of that version, without max_pages, and
// its receive buffers are 132 KiB, so it caps max_write at 128 KiB. Each FUSE
// request costs a hop into the JS main thread and back, so a 1 MiB dd write
// made of eight 128 KiB requests pays that hop eight times.
//
// For a mount whose JS registration asked for a larger request size (N bytes,
// a multiple of 4096 above 128 KiB), this file interposes two libfuse
// functions that libfuse calls through its PLT (like fuse_session_process_buf):
//  - fuse_chan_bufsize(ch) answers at least N + 4096, so the session loop's
//    workers allocate buffers a request of N bytes fits in, and do_init keeps
//    the max_write=N mount option instead of cutting it to 128 KiB;
//  - fuse_chan_send(ch, iov, 2) of the INIT reply (the FUSE thread is then
//    processing opcode FUSE_INIT, see cur_opcode) is sent extended to the
//    7.28 layout with FUSE_MAX_PAGES and max_pages = max_write / 4096, only
//    when the kernel's INIT said 7.28 or later. Everything else libfuse chose
//    (flags, max_readahead, max_background, ...) is kept.
// The kernel caps max_pages at fs.fuse.max_pages_limit. What was sent is
// recorded in the registry (mountState), so JS can report what the mount got.

#include "pfs_fuse.h"
#include "pfs_fuse_init_reply.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

__thread uint32_t cur_init_minor;

typedef size_t (*bufsize_fn)(struct fuse_chan *);
typedef int (*send_fn)(struct fuse_chan *, const struct iovec[], size_t);

size_t fuse_chan_bufsize(struct fuse_chan *ch) {
  static bufsize_fn next = NULL;
  if (next == NULL) next = (bufsize_fn) dlvsym(RTLD_NEXT, "fuse_chan_bufsize", "FUSE_2.4");
  if (next == NULL) abort();
  size_t real = next(ch);
  size_t want = pfs_mount_request_bytes(ch);
  return want > PFS_LIBFUSE2_MAX_REQUEST && want + PFS_PAGE_BYTES > real ? want + PFS_PAGE_BYTES : real;
}

int fuse_chan_send(struct fuse_chan *ch, const struct iovec iov[], size_t count) {
  static send_fn next = NULL;
  if (next == NULL) next = (send_fn) dlvsym(RTLD_NEXT, "fuse_chan_send", "FUSE_2.4");
  if (next == NULL) abort();
  if (cur_opcode != K_INIT) return next(ch, iov, count);
  size_t want = pfs_mount_request_bytes(ch);
  struct k_out_header hdr;
  struct k_init_out out;
  uint32_t offered = want > PFS_LIBFUSE2_MAX_REQUEST ? pfs_extend_init_reply(iov, count, cur_init_minor, &hdr, &out) : 0;
  if (offered == 0) {
    int r = next(ch, iov, count);
    pfs_mount_negotiated(ch, 0);
    return r;
  }
  struct iovec ext[2] = { { &hdr, sizeof hdr }, { &out, sizeof out } };
  int r = next(ch, ext, 2);
  pfs_mount_negotiated(ch, r == 0 ? (int) offered : 0);
  return r;
}
