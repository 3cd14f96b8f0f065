#include "agent/api/loopback_peer.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace balloond {
namespace {

// The address and port of `addr` as sock_diag's socket id holds them (network order).
bool ToDiag(const sockaddr_storage& addr, __be32 words[4], __be16* port) {
  std::memset(words, 0, 4 * sizeof(__be32));
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    std::memcpy(words, &in.sin_addr, sizeof(in.sin_addr));
    *port = in.sin_port;
    return true;
  }
  if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    std::memcpy(words, &in6.sin6_addr, sizeof(in6.sin6_addr));
    *port = in6.sin6_port;
    return true;
  }
  return false;
}

}  // namespace

std::optional<uid_t> LoopbackPeerUid(int fd) {
  sockaddr_storage peer{}, local{};
  socklen_t peer_len = sizeof(peer), local_len = sizeof(local);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    return std::nullopt;
  }
  // The client's socket: its source is our peer, its destination is us. An IPv4 client of a
  // dual-stack listener is named by v4-mapped addresses, which the kernel looks up as IPv4.
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } ask{};
  ask.header.nlmsg_len = sizeof(ask);
  ask.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  ask.header.nlmsg_flags = NLM_F_REQUEST;
  ask.request.sdiag_family = peer.ss_family;
  ask.request.sdiag_protocol = IPPROTO_TCP;
  ask.request.idiag_states = ~0U;
  ask.request.id.idiag_cookie[0] = ask.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (!ToDiag(peer, ask.request.id.idiag_src, &ask.request.id.idiag_sport) ||
      !ToDiag(local, ask.request.id.idiag_dst, &ask.request.id.idiag_dport)) {
    return std::nullopt;
  }
  const int diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (diag < 0) return std::nullopt;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  alignas(nlmsghdr) char answer[1024];
  ssize_t got = -1;
  if (sendto(diag, &ask, sizeof(ask), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) ==
      static_cast<ssize_t>(sizeof(ask))) {
    // The kernel answers within sendto: nothing to wait for.
    got = recv(diag, answer, sizeof(answer), MSG_DONTWAIT);
  }
  close(diag);
  const auto* reply = reinterpret_cast<const nlmsghdr*>(answer);
  if (got < 0 || !NLMSG_OK(reply, static_cast<size_t>(got)) ||
      reply->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
      reply->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
    return std::nullopt;  // NLMSG_ERROR: no such socket here
  }
  const auto* found = reinterpret_cast<const inet_diag_msg*>(NLMSG_DATA(reply));
  return static_cast<uid_t>(found->idiag_uid);
}

}  // namespace balloond
