/* Runs a program (argv[2..]) after confining itself the way a hostile
 * caller could: argv[1] = "seccomp" (a filter making fdatasync and
 * write-to-files fail with EPERM) or "landlock" (a domain that forbids
 * writing anywhere). Both need no_new_privs for an unprivileged caller,
 * which bdexec must notice and refuse. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("nnp"); return 2; }
    if (!strcmp(argv[1], "seccomp")) {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fdatasync, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog p = { .len = sizeof f / sizeof f[0], .filter = f };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p)) { perror("seccomp"); return 2; }
    } else if (!strcmp(argv[1], "landlock")) {
        struct landlock_ruleset_attr a = { .handled_access_fs =
            LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG };
        int fd = syscall(SYS_landlock_create_ruleset, &a, sizeof a, 0);
        if (fd < 0) { perror("landlock"); return 2; }
        if (syscall(SYS_landlock_restrict_self, fd, 0)) { perror("restrict"); return 2; }
    } else return 2;
    execv(argv[2], argv + 2);
    perror("exec");
    return 127;
}
