// Linux calls that Swift's Glibc module does not export: epoll and eventfd (by including their headers
// here), and calls hidden behind _GNU_SOURCE. Each is atomic where the portable
// two-step version (pipe + fcntl) would let a descriptor leak into a child spawned in between.
#ifndef GATEHOUSE_SYSTEM_SHIMS_H
#define GATEHOUSE_SYSTEM_SHIMS_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/types.h>

/// pipe2(2) with O_CLOEXEC.
int gatehouse_pipe_cloexec(int fds[2]);

/// accept4(2) with SOCK_CLOEXEC | SOCK_NONBLOCK.
int gatehouse_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

/// getrandom(2) from the kernel's CSPRNG; blocks only until the pool is first initialised at boot.
ssize_t gatehouse_getrandom(void *buffer, size_t length);

/// Names the calling thread (pthread_setname_np; at most 15 bytes are kept).
int gatehouse_set_thread_name(const char *name);

#endif
