/*
 * bench-floor: the physical floor of a privileged run (issue 16 item 2).
 *
 *   bench-floor LOG COMMAND [ARG...]
 *
 * Appends one 300-byte line to LOG (O_APPEND, created 0600), makes it
 * durable with fdatasync, and execs COMMAND: the least any tool that
 * keeps a durable record before running a command must do, with no
 * policy, no identity lookup and no logging format. `make bench` builds
 * it (static when it can: no dynamic loader either) and measures it
 * beside bdexec, sudo and doas, with LOG on the same disk as the audit
 * log. Exit 126 on any failure, like a shell's "cannot execute".
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[300];
	int fd;

	if (argc < 3) {
		fputs("usage: bench-floor LOG COMMAND [ARG...]\n", stderr);
		return 126;
	}
	memset(line, 'x', sizeof line);
	line[sizeof line - 1] = '\n';
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("bench-floor: open");
		return 126;
	}
	if (write(fd, line, sizeof line) != (ssize_t)sizeof line || fdatasync(fd) != 0) {
		perror("bench-floor: write");
		return 126;
	}
	close(fd);
	execv(argv[2], argv + 2);
	perror("bench-floor: exec");
	return 126;
}
