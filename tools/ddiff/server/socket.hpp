// ddiff serve: the client's socket of a request, to notice a client that went away.
// cpp-httplib 0.11 does not hand its socket to a handler, so the socket is found by its
// addresses (local and remote, as the request reports them) among the process's descriptors;
// it stays open as long as the handler runs. A peer that closed its side (FIN or RST) shows
// as POLLRDHUP / POLLHUP / POLLERR.
#pragma once

#include <string>

namespace ddiff::serve {

// The descriptor of the TCP connection between local_port and (remote_addr, remote_port), or -1.
int find_socket(const std::string& remote_addr, int remote_port, int local_port);

// Whether the peer of `fd` closed the connection (without blocking).
bool peer_closed(int fd);

}  // namespace ddiff::serve
