/*
 * LD_PRELOAD shim for the local Flink cluster: a bind() to the wildcard address (0.0.0.0 or ::) binds
 * to loopback instead (127.0.0.1 or ::1), so every listening socket of the lab stays on this machine.
 * Needed because flink-python's Beam channels between the TaskManager and its Python workers listen on
 * all interfaces and Flink has no setting for their address. Any other bind() is passed through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real_bind;
    if (!real_bind) real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in loop;
        memcpy(&loop, addr, sizeof loop);
        if (loop.sin_addr.s_addr == htonl(INADDR_ANY)) {
            loop.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (struct sockaddr *)&loop, sizeof loop);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 loop;
        memcpy(&loop, addr, sizeof loop);
        if (memcmp(&loop.sin6_addr, &in6addr_any, sizeof in6addr_any) == 0) {
            loop.sin6_addr = in6addr_loopback;
            return real_bind(fd, (struct sockaddr *)&loop, sizeof loop);
        }
    }
    return real_bind(fd, addr, len);
}
