#ifndef BALLOOND_AGENT_API_LOOPBACK_PEER_H_
#define BALLOOND_AGENT_API_LOOPBACK_PEER_H_

#include <sys/types.h>

#include <optional>

namespace balloond {

// The user whose socket is at the far end of the loopback TCP connection `fd` (as `ss -e` shows
// it): one exact lookup in the kernel's socket tables by the connection's addresses (netlink's
// sock_diag), whatever else is open on the host. nullopt when it cannot be told: the client's
// socket is in another network namespace, or gone already.
std::optional<uid_t> LoopbackPeerUid(int fd);

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_LOOPBACK_PEER_H_
