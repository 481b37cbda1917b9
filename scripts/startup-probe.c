/*
 * startup-probe: what starting a process costs on this machine before
 * any program's own code runs (`make profile`, part 0;
 * docs/performance.md "What a process start costs"). Built three ways
 * by scripts/profile-inner.py and started in turn:
 *
 *   -DPROBE_NOLIBC -nostdlib -static   no C library: _start exits at once
 *   -static                            glibc's static start-up, then exit
 *   (dynamic)                          the loader, libc.so, then exit
 *
 * and once more with -DPROBE_CPUID, which times the CPUID instruction
 * for the leaves glibc's start-up asks (CPUID traps to the hypervisor
 * in a virtual machine). A measurement, never a test.
 */
#if defined(PROBE_NOLIBC)
#if !defined(__x86_64__)
#error "the no-libc probe is written for x86-64"
#endif
void _start(void)
{
	__asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");
	__builtin_unreachable();
}
#elif defined(PROBE_CPUID)
#include <cpuid.h>
#include <stdio.h>
#include <time.h>

int main(void)
{
	static const unsigned leaves[] = { 0, 1, 2, 4, 7, 0xb, 0xd, 0x80000000, 0x80000006 };
	unsigned a, b, c, d;
	struct timespec t0, t1;

	for (unsigned i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int n = 0; n < 2000; n++)
			__cpuid_count(leaves[i], 0, a, b, c, d);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("%#x %.2f\n", leaves[i],
		       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 2000 / 1e3);
	}
	return 0;
}
#else
int main(void)
{
	return 0;
}
#endif
