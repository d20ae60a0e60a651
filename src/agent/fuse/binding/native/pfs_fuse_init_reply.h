// The INIT reply extended for requests above 128 KiB (FUSE_MAX_PAGES), shared by both sessions:
// the high-level one's interposed fuse_chan_send (pfs_fuse_pages.c) and the inode-based
// session's own channel (pfs_fuse_ll_chan.c). libfuse 2.9 speaks protocol 7.19: its INIT reply
// is the 24-byte fuse_init_out of that version. When the kernel said 7.28 or later and libfuse
// kept a max_write above 128 KiB, the reply goes out in the 7.28 layout with FUSE_MAX_PAGES and
// max_pages = max_write / 4096; everything else libfuse chose is kept.

#ifndef PFS_FUSE_INIT_REPLY_H
#define PFS_FUSE_INIT_REPLY_H

#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

// FUSE kernel ABI (fuse_kernel.h, stable).
struct k_out_header { uint32_t len; int32_t error; uint64_t unique; };
// fuse_init_out up to flags2 (7.28+ layout; the kernel accepts a reply shorter than its struct).
struct k_init_out {
  uint32_t major, minor, max_readahead, flags;
  uint16_t max_background, congestion_threshold;
  uint32_t max_write, time_gran;
  uint16_t max_pages, map_alignment;
  uint32_t flags2;
};
#define K_COMPAT_22_INIT_OUT_SIZE 24
#define K_MAX_PAGES (1u << 22)
#define K_MIN_MINOR_MAX_PAGES 28
#define PFS_PAGE_BYTES 4096u
#define PFS_LIBFUSE2_MAX_REQUEST 131072u

// iov/count: what libfuse sends as the INIT reply; kernel_minor: the minor of the kernel's INIT.
// Fills *hdr and *out with the extended reply and returns the request size it offers (bytes),
// or returns 0 when the reply is to go out as it is.
static inline uint32_t pfs_extend_init_reply(const struct iovec iov[], size_t count, uint32_t kernel_minor,
                                             struct k_out_header *hdr, struct k_init_out *out) {
  if (kernel_minor < K_MIN_MINOR_MAX_PAGES || count != 2 || iov[0].iov_len != sizeof *hdr ||
      iov[1].iov_len != K_COMPAT_22_INIT_OUT_SIZE) return 0;
  memcpy(hdr, iov[0].iov_base, sizeof *hdr);
  memset(out, 0, sizeof *out);
  memcpy(out, iov[1].iov_base, K_COMPAT_22_INIT_OUT_SIZE);
  if (hdr->error != 0 || out->max_write <= PFS_LIBFUSE2_MAX_REQUEST) return 0;
  uint32_t pages = out->max_write / PFS_PAGE_BYTES;
  if (pages > 65535) pages = 65535;
  out->flags |= K_MAX_PAGES;
  out->max_pages = (uint16_t) pages;
  hdr->len = sizeof *hdr + sizeof *out;
  return pages * PFS_PAGE_BYTES;
}

#endif
