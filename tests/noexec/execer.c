/* noexec test helper: tries to execute another program in the ways a
 * command could, and prints what the kernel said ("EXECUTED" comes from
 * the program it ran, /bin/echo). Modes:
 *   execve PATH          execve(2) of PATH
 *   execveat PATH        open(PATH) + execveat(fd, "", AT_EMPTY_PATH)
 *   child PATH           fork; the child execve's PATH (a descendant)
 *   later READY GO OUT PATH
 *                        write "pid ppid\n" to READY, wait for GO to
 *                        exist, then execve PATH; the result goes to OUT
 *   seccomp plain|listener
 *                        load an allow-all filter of our own, without or
 *                        with a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER)
 *   i386                 execve through the i386 entry (int 0x80)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *name(int e) {
    switch (e) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case ENOENT: return "ENOENT";
    default: return "OTHER";
    }
}

static int try_execve(const char *path, FILE *out) {
    char *argv[] = {(char *)"echo", (char *)"EXECUTED", NULL};
    execve(path, argv, environ);
    fprintf(out, "%s\n", name(errno));
    fflush(out);
    return 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && !strcmp(argv[1], "execve")) return try_execve(argv[2], stdout);
    if (argc == 3 && !strcmp(argv[1], "execveat")) {
        char *av[] = {(char *)"echo", (char *)"EXECUTED", NULL};
        int fd = open(argv[2], O_PATH | O_CLOEXEC);
        if (fd < 0) { puts("open failed"); return 2; }
        syscall(SYS_execveat, fd, "", av, environ, AT_EMPTY_PATH);
        puts(name(errno));
        return 1;
    }
    if (argc == 3 && !strcmp(argv[1], "child")) {
        pid_t p = fork();
        if (p == 0) _exit(try_execve(argv[2], stdout));
        int st = 0;
        waitpid(p, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
    }
    if (argc == 6 && !strcmp(argv[1], "later")) {
        FILE *r = fopen(argv[2], "w");
        if (!r) return 2;
        fprintf(r, "%d %d\n", (int)getpid(), (int)getppid());
        fclose(r);
        for (int i = 0; i < 1000 && access(argv[3], F_OK) != 0; i++) usleep(10000);
        FILE *o = fopen(argv[4], "w");
        if (!o) return 2;
        return try_execve(argv[5], o);
    }
    if (argc == 3 && !strcmp(argv[1], "seccomp")) {
        /* A filter of our own (it allows everything), with or without a
         * listener: a listener would let us answer our own execs. */
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = {1, &allow};
        unsigned long flags = strcmp(argv[2], "listener") ? 0 : SECCOMP_FILTER_FLAG_NEW_LISTENER;
        long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        puts(r >= 0 ? "ok" : name(errno));
        return r >= 0 ? 0 : 1;
    }
    if (argc == 2 && !strcmp(argv[1], "i386")) {
        static const char path[] = "/bin/echo";
        long ret;
        /* execve is 11 on i386; ebx = path (below 4 GiB: static data of a
         * non-PIE-independent build may not be, but the filter must kill
         * before the kernel looks at it). */
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(11L), "b"(path), "c"(0L), "d"(0L) : "memory");
        printf("i386 returned %ld\n", ret);
        return 1;
    }
    fputs("usage: execer execve|execveat|child PATH | later READY GO OUT PATH | i386\n", stderr);
    return 2;
}
