// pfs_fuse_ll_chan: the inode-based session's own channel, for requests above 128 KiB.
//
// libfuse 2.9 speaks protocol 7.19: its kernel channel reads into 132 KiB buffers, so do_init
// cuts max_write to 128 KiB, and its INIT reply is the 24-byte fuse_init_out of that version,
// without FUSE_MAX_PAGES, so the kernel sends at most 32 pages per read or write. Each request
// is one trip through the JS thread: a 1 MiB write in 128 KiB requests pays eight.
//
// With maxRequest above 128 KiB, the session gets a channel of its own on
// fuse_mount's descriptor (fuse_chan_new; fuse_mount's channel keeps owning the fd):
//  - its buffer size is maxRequest + 4096, so do_init keeps max_write = maxRequest and the
//    poll reader's buffer fits the largest request;
//  - receive is the kernel channel's read(2), error for error;
//  - send is writev(2), except the INIT reply (receive noted the INIT's unique and minor), which
//    goes out in the 7.28 layout with FUSE_MAX_PAGES and max_pages = max_write / 4096 when the
//    kernel said 7.28 or later. Everything else libfuse chose stays.
// Both readers (poll and thread) read through it.
// The kernel caps max_pages at fs.fuse.max_pages_limit; `negotiated` records what was offered.

#include "pfs_fuse_ll.h"
#include "pfs_fuse_init_reply.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static int chan_receive(struct fuse_chan **chp, char *buf, size_t size) {
  struct fuse_chan *ch = *chp;
  struct fuse_session *se = fuse_chan_session(ch);
  for (;;) {
    ssize_t res = read(fuse_chan_fd(ch), buf, size);
    int err = errno;
    if (se != NULL && fuse_session_exited(se)) return 0;
    if (res == -1) {
      if (err == ENOENT) continue;  // the request was interrupted before we read it
      if (err == ENODEV) {          // unmounted
        if (se != NULL) fuse_session_exit(se);
        return 0;
      }
      if (err != EINTR && err != EAGAIN) perror("pfs_fuse_ll: reading /dev/fuse");
      return -err;
    }
    if ((size_t) res < 40) {        // struct fuse_in_header
      fprintf(stderr, "pfs_fuse_ll: short read on /dev/fuse\n");
      return -EIO;
    }
    // fuse_in_header { len, opcode, unique (u64), ... }, then fuse_init_in { major, minor, ... }.
    uint32_t opcode;
    memcpy(&opcode, buf + 4, sizeof opcode);
    if (opcode == 26 && res >= 48) {
      sess_t *s = fuse_chan_data(ch);
      memcpy(&s->init_unique, buf + 8, sizeof s->init_unique);
      memcpy(&s->init_minor, buf + 44, sizeof s->init_minor);
    }
    return (int) res;
  }
}

static int write_all(struct fuse_chan *ch, const struct iovec iov[], size_t count) {
  ssize_t res = writev(fuse_chan_fd(ch), iov, (int) count);
  int err = errno;
  if (res == -1) {
    struct fuse_session *se = fuse_chan_session(ch);
    // ENOENT: the request was interrupted and is gone; nothing to report.
    if ((se == NULL || !fuse_session_exited(se)) && err != ENOENT) perror("pfs_fuse_ll: writing /dev/fuse");
    return -err;
  }
  return 0;
}

static int chan_send(struct fuse_chan *ch, const struct iovec iov[], size_t count) {
  sess_t *s = fuse_chan_data(ch);
  struct k_out_header hdr;
  struct k_init_out out;
  // Only the reply to the INIT that receive saw (its unique) is extended.
  int init = count == 2 && iov[0].iov_len == sizeof hdr && ((const struct k_out_header *) iov[0].iov_base)->unique == s->init_unique;
  uint32_t offered = init ? pfs_extend_init_reply(iov, count, s->init_minor, &hdr, &out) : 0;
  if (offered == 0) return write_all(ch, iov, count);
  struct iovec ext[2] = { { &hdr, sizeof hdr }, { &out, sizeof out } };
  int r = write_all(ch, ext, 2);
  if (r == 0) s->negotiated = offered;
  s->init_minor = 0;
  return r;
}

struct fuse_chan *ll_chan_new(sess_t *s, int fd, size_t max_request) {
  static struct fuse_chan_ops ops = { .receive = chan_receive, .send = chan_send, .destroy = NULL };
  return fuse_chan_new(&ops, fd, max_request + PFS_PAGE_BYTES, s);
}
