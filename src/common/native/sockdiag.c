// tcpPeerUid (pfs_native): the uid that owns a local TCP socket, found by its four-tuple with
// one NETLINK_SOCK_DIAG exact lookup (what `ss` uses), in microseconds whatever the number of
// sockets on the machine. The RPC server asks it for the socket at the other end of a loopback
// connection (common/rpc/peer.ts): the kernel records its owner when it is created.
//
// JS: tcpPeerUid(family 4|6, srcIp Buffer(4|16), srcPort, dstIp Buffer(4|16), dstPort)
//     -> uid (>= 0), -1 when no such socket exists, or -2 - errno when the lookup failed.

#include "pfs_native.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>

static int lookup(int family, const void *src, size_t ip_len, uint16_t sport, const void *dst, uint16_t dport) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -2 - errno;
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.req.sdiag_family = (uint8_t) family;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0u;
  msg.req.id.idiag_sport = htons(sport);
  msg.req.id.idiag_dport = htons(dport);
  memcpy(msg.req.id.idiag_src, src, ip_len);
  memcpy(msg.req.id.idiag_dst, dst, ip_len);
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  if (sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0) {
    int e = errno;
    close(fd);
    return -2 - e;
  }
  long buf[2048];
  ssize_t n;
  do n = recv(fd, buf, sizeof buf, 0); while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  if (n < 0) return -2 - e;
  struct nlmsghdr *h = (struct nlmsghdr *) buf;
  if (!NLMSG_OK(h, (size_t) n)) return -2 - EPROTO;
  if (h->nlmsg_type == NLMSG_ERROR) {
    struct nlmsgerr *err = NLMSG_DATA(h);
    return err->error == -ENOENT ? -1 : -2 - (err->error < 0 ? -err->error : EPROTO);
  }
  if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) return -2 - EPROTO;
  struct inet_diag_msg *m = NLMSG_DATA(h);
  return (int) m->idiag_uid;
}

static napi_value tcp_peer_uid(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], out;
  int32_t family, sport, dport;
  void *src, *dst;
  size_t src_len, dst_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 ||
      napi_get_value_int32(env, argv[0], &family) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &src, &src_len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &sport) != napi_ok ||
      napi_get_buffer_info(env, argv[3], &dst, &dst_len) != napi_ok ||
      napi_get_value_int32(env, argv[4], &dport) != napi_ok) {
    napi_throw_type_error(env, NULL, "tcpPeerUid(family, srcIp, srcPort, dstIp, dstPort)");
    return NULL;
  }
  size_t ip_len = family == 4 ? 4 : 16;
  if ((family != 4 && family != 6) || src_len != ip_len || dst_len != ip_len ||
      sport < 0 || sport > 65535 || dport < 0 || dport > 65535) {
    napi_throw_range_error(env, NULL, "tcpPeerUid: bad family, address or port");
    return NULL;
  }
  int uid = lookup(family == 4 ? AF_INET : AF_INET6, src, ip_len, (uint16_t) sport, dst, (uint16_t) dport);
  napi_create_int64(env, uid, &out);
  return out;
}

napi_status pfs_sockdiag_init(napi_env env, napi_value exports) {
  return pfs_export(env, exports, "tcpPeerUid", tcp_peer_uid);
}
