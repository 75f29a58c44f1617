#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>
#include "SystemShims.h"

int gatehouse_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int gatehouse_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

ssize_t gatehouse_getrandom(void *buffer, size_t length) { return getrandom(buffer, length, 0); }
