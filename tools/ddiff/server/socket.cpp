// ddiff serve: finding a request's socket and polling it (socket.hpp).
#include "socket.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

namespace ddiff::serve {

namespace {
// The address and port of a socket end, as text ("127.0.0.1", 8080); false if not an IP socket.
bool endpoint_of(const sockaddr_storage& a, std::string& addr, int& port) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
        const auto* s = reinterpret_cast<const sockaddr_in*>(&a);
        if (!inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf)) return false;
        port = ntohs(s->sin_port);
    } else if (a.ss_family == AF_INET6) {
        const auto* s = reinterpret_cast<const sockaddr_in6*>(&a);
        if (!inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf)) return false;
        port = ntohs(s->sin6_port);
    } else {
        return false;
    }
    addr = buf;
    return true;
}
}  // namespace

int find_socket(const std::string& remote_addr, int remote_port, int local_port) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return -1;
    int found = -1;
    while (const dirent* e = readdir(d)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || fd < 0 || fd == dirfd(d)) continue;
        sockaddr_storage local{}, peer{};
        socklen_t ll = sizeof local, pl = sizeof peer;
        if (getsockname(int(fd), reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
        if (getpeername(int(fd), reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
        std::string la, pa;
        int lp = -1, pp = -1;
        if (!endpoint_of(local, la, lp) || !endpoint_of(peer, pa, pp)) continue;
        if (lp == local_port && pp == remote_port && pa == remote_addr) {
            found = int(fd);
            break;
        }
    }
    closedir(d);
    return found;
}

bool peer_closed(int fd) {
    if (fd < 0) return false;
    pollfd p{.fd = fd, .events = POLLRDHUP, .revents = 0};
    if (poll(&p, 1, 0) < 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace ddiff::serve
