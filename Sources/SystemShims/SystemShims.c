#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include "SystemShims.h"

int gatehouse_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int gatehouse_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

ssize_t gatehouse_getrandom(void *buffer, size_t length) { return getrandom(buffer, length, 0); }

int gatehouse_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof truncated - 1);
    truncated[sizeof truncated - 1] = 0;
    return pthread_setname_np(pthread_self(), truncated);
}
