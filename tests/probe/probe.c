/* try-syscall style probe for the sandbox tests (like bubblewrap's
 * tests/try-syscall.c): each mode makes one system call and prints
 * "ok" or the errno name, so the test checks what the kernel did, not
 * what a message says. Exit status: 0 = call succeeded, 1 = it failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

static int report(long rc) {
    if (rc >= 0) { puts("ok"); return 0; }
    switch (errno) {
    case EACCES: puts("EACCES"); break;
    case EPERM: puts("EPERM"); break;
    case ENOENT: puts("ENOENT"); break;
    case ENOTTY: puts("ENOTTY"); break;
    case EBADF: puts("EBADF"); break;
    case ECONNREFUSED: puts("ECONNREFUSED"); break;
    case EADDRINUSE: puts("EADDRINUSE"); break;
    default: printf("errno=%d\n", errno);
    }
    return 1;
}

static long tcp(const char *port, int do_bind) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return do_bind ? bind(s, (struct sockaddr *)&a, sizeof a)
                   : connect(s, (struct sockaddr *)&a, sizeof a);
}

/* Connect to the abstract unix socket "\0name". */
static long abstract_connect(const char *name) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) return -1;
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (n + 1 > sizeof a.sun_path) { errno = ENAMETOOLONG; return -1; }
    memcpy(a.sun_path + 1, name, n);
    return connect(s, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *m = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(m, "read") && argc == 3) return report(open(argv[2], O_RDONLY));
    if (!strcmp(m, "write") && argc == 3) return report(open(argv[2], O_WRONLY | O_CREAT, 0600));
    if (!strcmp(m, "bind") && argc == 3) return report(tcp(argv[2], 1));
    if (!strcmp(m, "connect") && argc == 3) return report(tcp(argv[2], 0));
    if (!strcmp(m, "kill") && argc == 3) return report(kill(atoi(argv[2]), SIGTERM));
    if (!strcmp(m, "abstract") && argc == 3) return report(abstract_connect(argv[2]));
    if (!strcmp(m, "ptrace")) return report(ptrace(PTRACE_TRACEME, 0, 0, 0));
    if (!strcmp(m, "uname")) { struct utsname u; return report(uname(&u)); }
    if (!strcmp(m, "chown") && argc == 3) return report(chown(argv[2], 0, 0));
    if (!strcmp(m, "tiocsti")) {
        char c = 'x';
        /* The request with high bits set must be caught too (the kernel
         * only looks at the low 32 bits). */
        long r1 = syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI, &c);
        if (r1 >= 0 || errno != EPERM) return report(r1);
        return report(syscall(SYS_ioctl, 0, 0xffffffff00000000UL | TIOCSTI, &c));
    }
    if (!strcmp(m, "status")) {
        FILE *f = fopen("/proc/self/status", "r");
        if (!f) return report(-1);
        char line[512];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) ||
                !strncmp(line, "Seccomp:", 8) || !strncmp(line, "Uid", 3))
                fputs(line, stdout);
        return 0;
    }
    return 2;
}
