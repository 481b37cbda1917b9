//! Everything from the caller is hostile (DESIGN 2.2, 13): argv (argc 0
//! too), bytes that are not UTF-8, terminal escapes, huge arguments,
//! closed fds, tiny rlimits, odd target names, and hostile process
//! environments (ptrace, no_new_privs, a user namespace, missing caps).
//! Each case gets a clear answer and loses nothing.

#[macro_use]
mod common;
use common::*;
use serde_json::Value;

/// The command a test may try to run: it leaves /var/lib/marker behind.
const TOUCH: [&str; 3] = ["--", "/usr/bin/touch", "/var/lib/marker"];

/// Every line of the log is valid UTF-8 with no raw control byte.
fn assert_log_is_clean_text(env: &TestEnv, ctx: &str) {
    let log = env.audit_bytes();
    for (i, l) in raw_lines(&log).iter().enumerate() {
        assert!(
            std::str::from_utf8(l).is_ok(),
            "{ctx}: line {} is not UTF-8: {:?}",
            i + 1,
            String::from_utf8_lossy(l)
        );
        assert!(
            !l.iter().any(|b| *b < 0x20 || *b == 0x7f),
            "{ctx}: line {} holds a raw control byte: {:?}",
            i + 1,
            String::from_utf8_lossy(l)
        );
    }
}

/// No raw control or invalid bytes in a message.
fn assert_clean_message(o: &Out, ctx: &str) {
    let body = &o.stderr[..o.stderr.len().saturating_sub(1)];
    assert!(
        std::str::from_utf8(&o.stderr).is_ok(),
        "{ctx}: stderr must be valid UTF-8\n{o}"
    );
    assert!(
        !body.iter().any(|b| *b < 0x20 || *b == 0x7f),
        "{ctx}: stderr must not carry raw control bytes: {:?}\n{o}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A refusal that is "clear": a documented non-zero code and one line.
fn assert_clear_refusal_or_success(env: &TestEnv, o: &Out, ctx: &str, records_before: usize) {
    let code = o
        .code()
        .unwrap_or_else(|| panic!("{ctx}: bdexec was killed by a signal\n{o}"));
    if code == 0 {
        assert_eq!(
            o.stdout_str(),
            "0\n",
            "{ctx}: success must run the command\n{o}"
        );
        assert_eq!(
            env.audit_lines().len(),
            records_before + 1,
            "{ctx}: success without a record\n{o}"
        );
    } else {
        assert!(
            [1, 3, 4, 5].contains(&code),
            "{ctx}: undocumented exit code\n{o}"
        );
        assert_one_bdexec_line(o, ctx);
        assert!(o.stdout.is_empty(), "{ctx}: nothing ran\n{o}");
    }
}

// ---------------------------------------------------------------- argv

/// argc 0 (the pkexec bug class): execve with an empty argv and an
/// environment shaped like arguments. bdexec must not read envp as argv.
#[test]
fn argc_zero() {
    let env = test_env!("argc_zero");
    env.policy(STD_POLICY);
    let helper = env.compile_c(
        "argc0",
        r#"#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char *nargv[] = { NULL };
    char *nenvp[] = { "--", "/usr/bin/touch", "/var/lib/marker", "-u", "root",
                      "PATH=/usr/bin:/bin", NULL };
    if (argc < 2) return 99;
    execve(argv[1], nargv, nenvp);
    perror("execve");
    return 98;
}
"#,
    );
    let o = env.program("alice", &helper).arg(env.bdexec_path()).run();
    let code = o.code().unwrap_or(-1);
    assert!(
        code == 1 || code == 2,
        "argc 0 is a usage error (2) or a refusal (1)\n{o}"
    );
    assert_one_bdexec_line(&o, "argc 0");
    assert!(!env.marker_exists("marker"), "envp was taken as argv!\n{o}");
    assert!(
        env.audit_events("accept").is_empty(),
        "nothing accepted\n{o}"
    );
}

/// Trailing backslashes are ordinary bytes (CVE-2021-3156 class).
#[test]
fn trailing_backslash() {
    let env = test_env!("trailing_backslash");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/echo", "foo\\"])
        .expect_stdout("foo\\\n", "echo 'foo\\'");
    env.run_as_user("alice", &["--", "/usr/bin/echo", "\\"])
        .expect_stdout("\\\n", "echo '\\'");
    env.run_as_user("alice", &["-n", "--", "/usr/bin/echo", "\\", "\\"])
        .expect_stdout("\\ \\\n", "two backslashes");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u\\"])
        .expect_refusal(1, "id '-u\\' is not id -u");
    env.run_as_user("alice", &["--", "\\"])
        .expect_refusal(1, "command '\\'");
    env.run_as_user("alice", &["--", "/usr/bin/id\\", "-u"])
        .expect_refusal(1, "command '/usr/bin/id\\'");
    env.run_as_user("alice", &["-u", "root\\", "--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "target 'root\\'");
    let o = env.run_as_user("alice", &["-\\"]);
    o.expect_code(2, "option '-\\'");
    assert!(o.stderr.starts_with(b"bdexec: "), "{o}");
    let echo = env.audit_events("accept");
    assert_eq!(echo.len(), 3, "{echo:#?}");
    let argv = echo[0]["runargv"].as_array().unwrap();
    assert!(
        argv.last()
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("foo")),
        "{:#}",
        echo[0]
    );
    env.assert_verify_ok("after backslashes");
    assert_log_is_clean_text(&env, "backslashes");
}

/// A single argument can be at most 128 KiB - 1 on Linux (MAX_ARG_STRLEN;
/// execve fails with E2BIG above that, before bdexec exists), so the "1 MiB
/// argument" is tested as the largest single argument plus 1 MiB of argv.
#[test]
fn huge_arguments() {
    let env = test_env!("huge_arguments");
    env.policy(STD_POLICY);
    let biggest = "a".repeat(128 * 1024 - 1);
    let chunk = "b".repeat(120_000);
    let mut args: Vec<String> = vec!["--".into(), "/usr/bin/echo".into(), biggest.clone()];
    args.extend(std::iter::repeat_n(chunk.clone(), 8));
    let total: usize = args.iter().map(String::len).sum();
    assert!(total > 1024 * 1024);
    let o = env.bdexec("alice").args(&args).run();
    o.expect_code(0, "echo with 1 MiB of argv");
    let mut expect = biggest.clone();
    for _ in 0..8 {
        expect.push(' ');
        expect.push_str(&chunk);
    }
    expect.push('\n');
    assert!(
        o.stdout_str() == expect,
        "echo output is the arguments ({} bytes, want {})",
        o.stdout.len(),
        expect.len()
    );

    // Refused with a huge argument: still one line.
    let o = env.run_as_user("alice", &["--", "/usr/bin/id", &biggest]);
    o.expect_refusal(1, "id with a 128 KiB argument");
    let name = &biggest["/usr/bin/".len()..];
    let o = env.run_as_user("alice", &["--", &format!("/usr/bin/{name}")]);
    o.expect_refusal(1, "a 128 KiB command name");
    let o = env.run_as_user("alice", &["-u", &biggest, "--", "/usr/bin/id", "-u"]);
    o.expect_refusal(1, "a 128 KiB target name");
    env.assert_verify_ok("after huge arguments");
    assert_eq!(env.audit_events("accept").len(), 1);
}

/// Non-UTF-8 bytes and terminal escapes in argv: the command gets them
/// unchanged; the audit record and messages carry them escaped.
#[test]
fn non_utf8_and_escapes_in_argv() {
    let env = test_env!("non_utf8_and_escapes_in_argv");
    env.policy(STD_POLICY);
    let o = env
        .bdexec("alice")
        .args(["--", "/usr/bin/echo"])
        .arg_bytes(b"\xff\xfe")
        .arg_bytes(b"\x1b[31mred\x1b[0m")
        .arg_bytes(b"nl\nline\ttab\x07bell\x7f")
        .run();
    o.expect_code(0, "echo hostile bytes");
    assert_eq!(
        o.stdout, b"\xff\xfe \x1b[31mred\x1b[0m nl\nline\ttab\x07bell\x7f\n",
        "bytes pass unchanged\n{o}"
    );
    assert_log_is_clean_text(&env, "accept with hostile argv");
    let rec = &env.audit_events("accept")[0];
    let argv: Vec<&str> = rec["runargv"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let n = argv.len();
    assert!(n >= 3, "{rec:#}");
    assert_eq!(
        argv[n - 3].to_ascii_lowercase(),
        "\\xff\\xfe",
        "invalid UTF-8 is written as the text \\xNN: {rec:#}"
    );
    assert_eq!(
        argv[n - 2],
        "\u{1b}[31mred\u{1b}[0m",
        "escape chars survive JSON-escaped: {rec:#}"
    );
    assert_eq!(argv[n - 1], "nl\nline\ttab\u{7}bell\u{7f}", "{rec:#}");
    let raw = String::from_utf8(env.audit_bytes())
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        raw.contains("\\u001b[31mred"),
        "control chars as \\u escapes in the file: {raw}"
    );

    // Refused: the message and the reject record are escaped too.
    let o = env
        .bdexec("alice")
        .arg("--")
        .arg_bytes(b"/usr/bin/\x1b]0;pwned\x07\x1b[2J\xff")
        .run();
    o.expect_refusal(1, "hostile command name");
    assert_clean_message(&o, "hostile command name");
    let o = env
        .bdexec("alice")
        .args(["--", "/usr/bin/id"])
        .arg_bytes(b"-u\nbdexec: forged second line")
        .run();
    o.expect_refusal(1, "newline in an argument");
    assert_clean_message(&o, "newline in an argument");
    let o = env
        .bdexec("alice")
        .arg("-u")
        .arg_bytes(b"\x1b[31mroot\xff")
        .args(["--", "/usr/bin/id", "-u"])
        .run();
    o.expect_refusal(1, "hostile target name");
    assert_clean_message(&o, "hostile target name");
    assert_eq!(env.audit_events("reject").len(), 3, "each refusal recorded");
    assert_log_is_clean_text(&env, "rejects with hostile argv");
    env.assert_verify_ok("after hostile bytes");
}

/// Bad targets: negative or (uid_t)-1 ids, names with '/', control
/// characters, empty. Refused (exit 1) and recorded; nothing runs.
#[test]
fn bad_target_users() {
    let env = test_env!("bad_target_users");
    env.policy(
        r##"version = 1
[[rule]]
name = "any-target"
users = ["alice"]
run_as = ["root", "bob", "#4294967295", "#-1"]
commands = ["/usr/bin/touch /var/lib/marker"]
auth = "none"
"##,
    );
    // The policy itself may be refused for naming #-1/#4294967295: then
    // test with a policy that doesn't.
    let probe = env.run_as_user("alice", &TOUCH);
    if probe.code() == Some(3) {
        env.policy(
            r##"version = 1
[[rule]]
name = "any-target"
users = ["alice"]
run_as = ["root", "bob"]
commands = ["/usr/bin/touch /var/lib/marker"]
auth = "none"
"##,
        );
    } else {
        probe.expect_code(0, "sanity: touch as root");
    }
    std::fs::remove_file(env.var_lib().join("marker")).ok();
    let before = env.audit_events("reject").len();
    let bad: &[&str] = &[
        "#-1",
        "#4294967295",
        "#4294967296",
        "#-0",
        "#",
        "#1e3",
        "#0x0",
        "a/b",
        "../root",
        "/root",
        "root\n",
        "bob\u{1b}",
        "nosuch",
    ];
    for t in bad {
        let mut args = vec!["-u", t];
        args.extend(TOUCH);
        let o = env.run_as_user("alice", &args);
        o.expect_refusal(1, &format!("-u {t:?}"));
        assert_clean_message(&o, &format!("-u {t:?}"));
        assert!(
            !env.marker_exists("marker"),
            "-u {t:?} ran the command\n{o}"
        );
    }
    assert_eq!(
        env.audit_events("reject").len() - before,
        bad.len(),
        "every refused target is recorded"
    );
    let o = env.run_as_user(
        "alice",
        &["-u", "", "--", "/usr/bin/touch", "/var/lib/marker"],
    );
    assert!(matches!(o.code(), Some(1 | 2)), "-u '' is refused\n{o}");
    assert_one_bdexec_line(&o, "-u ''");
    assert!(!env.marker_exists("marker"), "-u '' ran the command\n{o}");
    assert!(env.audit_events("accept").len() <= 1);
    assert_log_is_clean_text(&env, "bad targets");
    env.assert_verify_ok("after bad targets");
}

// ----------------------------------------------------------------- fds

/// fds 0, 1, 2 closed by the caller (each, and all): the exit status is
/// still right and the record is still written (and nothing lands in the
/// log through a reused fd).
#[test]
fn closed_standard_fds() {
    let env = test_env!("closed_standard_fds");
    env.policy(STD_POLICY);
    let sets: &[&[i32]] = &[&[0], &[1], &[2], &[0, 1], &[0, 1, 2]];
    for (i, fds) in sets.iter().enumerate() {
        let before = env.audit_lines().len();
        let mut c = env.bdexec("alice").args(TOUCH);
        for fd in *fds {
            c = c.close_fd(*fd);
        }
        let o = c.run();
        o.expect_code(0, &format!("touch with fds {fds:?} closed"));
        assert!(
            env.marker_exists("marker"),
            "fds {fds:?}: the command ran\n{o}"
        );
        std::fs::remove_file(env.var_lib().join("marker")).unwrap();
        let mut c = env.bdexec("alice").args(["--", "/bin/sh", "-c", "exit 42"]);
        for fd in *fds {
            c = c.close_fd(*fd);
        }
        c.run()
            .expect_code(42, &format!("exit status with fds {fds:?} closed"));
        let mut c = env.bdexec("alice").args(["--", "/usr/bin/id", "-G"]);
        for fd in *fds {
            c = c.close_fd(*fd);
        }
        let o = c.run();
        o.expect_code(1, &format!("refusal with fds {fds:?} closed"));
        if !fds.contains(&2) {
            assert_one_bdexec_line(&o, &format!("refusal with fds {fds:?} closed"));
        }
        assert_eq!(
            env.audit_lines().len(),
            before + 3,
            "round {i}: three records with fds {fds:?} closed"
        );
        env.assert_verify_ok(&format!("fds {fds:?} closed"));
    }
    // The same through a shell, as a user would do it.
    let o = env.sh_in_ns(
        "alice",
        "\"$BDEXEC\" -- /usr/bin/touch /var/lib/marker <&- >&- 2>&-; echo rc=$?; \
         \"$BDEXEC\" -- /usr/bin/id -G <&- >&- 2>&-; echo rc=$?",
    );
    o.expect_stdout("rc=0\nrc=1\n", "closed fds via the shell");
    assert!(env.marker_exists("marker"));
    assert_log_is_clean_text(&env, "closed fds");
    assert!(
        !String::from_utf8_lossy(&env.audit_bytes()).contains("bdexec: "),
        "a message leaked into the log"
    );
    env.assert_verify_ok("after closed fds");
}

// ------------------------------------------------------------- rlimits

/// RLIMIT_FSIZE = 1 byte set by the caller: a clear refusal or success,
/// never a death by SIGXFSZ, never a torn or corrupt log.
#[test]
fn rlimit_fsize_one_byte() {
    let env = test_env!("rlimit_fsize_one_byte");
    env.policy(STD_POLICY);
    for round in 0..2 {
        for (soft, hard) in [(1u64, 1u64), (1, libc::RLIM_INFINITY)] {
            let ctx = format!("round {round}, FSIZE {soft}:{hard}");
            let before_bytes = env.audit_bytes();
            let before = env.audit_lines().len();
            let o = env
                .bdexec("alice")
                .args(["--", "/usr/bin/id", "-u"])
                .rlimit(libc::RLIMIT_FSIZE, soft, hard)
                .run();
            assert_clear_refusal_or_success(&env, &o, &ctx, before);
            let after = env.audit_bytes();
            assert!(
                after.starts_with(&before_bytes),
                "{ctx}: existing records changed"
            );
            if !after.is_empty() {
                env.assert_verify_ok(&ctx);
            }
        }
        // A normal call in between, so round 1 starts with a non-empty log.
        env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
            .expect_stdout("0\n", "normal call");
    }
    env.assert_verify_ok("after FSIZE rounds");
}

/// RLIMIT_STACK of 16 KiB (soft; the hard limit larger) set by the
/// caller: bdexec raises it before its first large frame, so the call
/// runs or refuses clearly, and the command gets the caller's limit back.
/// (8 KiB kills /bin/true itself on this kernel; a hard limit of 16 KiB
/// cannot be raised and is not covered: docs/decisions.md section 19.)
#[test]
fn rlimit_stack_sixteen_kib() {
    let env = test_env!("rlimit_stack_sixteen_kib");
    env.policy(&format!(
        "{STD_POLICY}\n[[rule]]\nname = \"alice-ulimit\"\nusers = [\"alice\"]\ncommands = [\"/bin/sh -c *\"]\nauth = \"none\"\n"
    ));
    let before = env.audit_lines().len();
    let o = env
        .bdexec("alice")
        .args(["--", "/usr/bin/id", "-u"])
        .rlimit(libc::RLIMIT_STACK, 16 << 10, 8 << 20)
        .run();
    assert_clear_refusal_or_success(&env, &o, "STACK 16 KiB:8 MiB", before);
    let o = env
        .bdexec("alice")
        .args(["--", "/bin/sh", "-c", "ulimit -s"])
        .rlimit(libc::RLIMIT_STACK, 512 << 10, 8 << 20)
        .run();
    // (Above the 256 KiB the static bdexec's twin needs to start: under
    // `make test-static` the call may go through it.)
    o.expect_stdout("512\n", "the command gets the caller's 512 KiB back");
}

/// The command runs with every limit the caller set: those bdexec raises
/// for its own work (NOFILE, FSIZE, CPU, DATA, AS, STACK) and puts back,
/// those it never touches (NPROC, MEMLOCK, MSGQUEUE), which the static
/// bdexec does not rewrite (src/exec/hygiene.rs `ONLY_OWN_CHANGES`), and
/// RLIMIT_CORE, which it sets to 0 for itself; and the same when they
/// already are where bdexec wants them, so that it neither sets nor puts
/// them back. Soft and hard, read from the command's /proc/self/limits.
/// Hard limits are only lowered here (raising one needs
/// CAP_SYS_RESOURCE); a stack soft limit above 8 MiB is not tried: the
/// kernel lowers it to 8 MiB when it execs a program with file
/// capabilities, before bdexec runs.
#[test]
fn the_command_gets_every_caller_limit() {
    let env = test_env!("the_command_gets_every_caller_limit");
    env.policy(&format!(
        "{STD_POLICY}\n[[rule]]\nname = \"alice-limits\"\nusers = [\"alice\"]\ncommands = [\"/bin/sh -c *\"]\nauth = \"none\"\n"
    ));
    // Two calls: limits bdexec must raise or zero for itself (then put
    // back), then the same limits already where bdexec wants them (soft
    // at the hard limit, no core file: not set, so not put back either),
    // which the command must get all the same.
    command_gets(&env, &CALLER_LIMITS);
    command_gets(&env, &already_raised(CALLER_LIMITS));
}

type Limits = [(libc::__rlimit_resource_t, &'static str, u64, u64); 10];

/// `set` with every limit bdexec raises at its hard limit and no core
/// file: what bdexec wants for itself, so it sets none of them.
fn already_raised(mut set: Limits) -> Limits {
    for (r, _, soft, hard) in &mut set {
        match *r {
            libc::RLIMIT_CORE => *soft = 0,
            libc::RLIMIT_NPROC | libc::RLIMIT_MEMLOCK | libc::RLIMIT_MSGQUEUE => {}
            _ => *soft = *hard,
        }
    }
    set
}

const CALLER_LIMITS: Limits = [
    (libc::RLIMIT_CPU, "Max cpu time", 500, 600),
    (libc::RLIMIT_FSIZE, "Max file size", 4 << 20, 8 << 20),
    (libc::RLIMIT_DATA, "Max data size", 900 << 20, 1000 << 20),
    (libc::RLIMIT_CORE, "Max core file size", 1 << 20, 2 << 20),
    (libc::RLIMIT_NPROC, "Max processes", 4321, 5000),
    (libc::RLIMIT_NOFILE, "Max open files", 200, 300),
    (
        libc::RLIMIT_MEMLOCK,
        "Max locked memory",
        64 << 10,
        128 << 10,
    ),
    (libc::RLIMIT_MSGQUEUE, "Max msgqueue size", 12345, 54321),
    (libc::RLIMIT_AS, "Max address space", 6 << 30, 8 << 30),
    (libc::RLIMIT_STACK, "Max stack size", 4 << 20, 8 << 20),
];

fn command_gets(env: &TestEnv, set: &Limits) {
    let mut call = env
        .bdexec("alice")
        .args(["--", "/bin/sh", "-c", "exec cat /proc/self/limits"]);
    for &(r, _, soft, hard) in set {
        call = call.rlimit(r, soft, hard);
    }
    let o = call.run();
    assert_eq!(o.code(), Some(0), "the call runs: {}", o.all_output());
    let limits = o.stdout_str();
    for &(_, name, soft, hard) in set {
        let line = limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not in {limits}"));
        let vals: Vec<&str> = line[name.len()..].split_whitespace().collect();
        assert_eq!(
            vals.get(..2),
            Some(&[soft.to_string().as_str(), hard.to_string().as_str()][..]),
            "{name}: the command gets the caller's soft and hard limit"
        );
    }
}

/// True when the ELF file has a PT_INTERP header (dynamically linked).
fn is_dynamic(path: &std::path::Path) -> bool {
    let b = std::fs::read(path).unwrap();
    let u16at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16at(0x36), u16at(0x38));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3
    })
}

/// The dynamic loader (ld.so) failing before bdexec's main (no free fd
/// for libc): exit 127, nothing ran, nothing written. The same happens to
/// sudo and every dynamically linked program.
/// With stderr closed its message is lost: exit 127 and empty stderr.
fn loader_failed(o: &Out, stderr_closed: bool) -> bool {
    o.code() == Some(127)
        && (o
            .stderr_str()
            .contains("error while loading shared libraries")
            || (stderr_closed && o.stderr.is_empty()))
}

/// RLIMIT_NOFILE = 3 set by the caller: a clear refusal or success.
///
/// A dynamically linked bdexec never reaches `main` with 3 (ld.so needs a
/// fourth fd for its libraries: exit 127, like sudo); so the same checks
/// also run for every limit from 4 to 12, where bdexec itself runs out of
/// descriptors at some step of the pipeline.
#[test]
fn rlimit_nofile_three() {
    let env = test_env!("rlimit_nofile_three");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "normal call");
    let dynamic = is_dynamic(&env.bdexec_path());

    let mut cases: Vec<(u64, u64, Option<i32>)> = vec![
        (3, 3, None),
        (3, 3, Some(0)),
        (3, 3, Some(2)),
        (3, 4096, None),
    ];
    for n in 4..=12 {
        cases.push((n, n, None));
        cases.push((n, n, Some(2)));
    }
    let mut reached_main = 0;
    for (soft, hard, closed) in cases {
        let ctx = format!("NOFILE {soft}:{hard}, closed fd {closed:?}");
        let before_bytes = env.audit_bytes();
        let before = env.audit_lines().len();
        let mut c = env
            .bdexec("alice")
            .args(["--", "/usr/bin/id", "-u"])
            .rlimit(libc::RLIMIT_NOFILE, soft, hard);
        if let Some(fd) = closed {
            c = c.close_fd(fd);
        }
        let o = c.run();
        if dynamic && soft == 3 && loader_failed(&o, closed == Some(2)) {
            loud(&format!(
                "NOTE rlimit_nofile_three: {ctx}: bdexec is dynamically linked; ld.so failed before main (exit 127)"
            ));
            assert_eq!(env.audit_bytes(), before_bytes, "{ctx}: nothing written");
            assert!(o.stdout.is_empty(), "{ctx}: nothing ran\n{o}");
            continue;
        }
        reached_main += 1;
        if closed == Some(2) {
            // stderr is closed: a refusal is silent here; check the code.
            let code = o
                .code()
                .unwrap_or_else(|| panic!("{ctx}: killed by a signal\n{o}"));
            if code == 0 {
                assert_eq!(o.stdout_str(), "0\n", "{ctx}\n{o}");
                assert_eq!(
                    env.audit_lines().len(),
                    before + 1,
                    "{ctx}: success without a record"
                );
            } else {
                assert!(
                    [1, 3, 4, 5].contains(&code),
                    "{ctx}: undocumented exit code\n{o}"
                );
                assert!(o.stdout.is_empty(), "{ctx}\n{o}");
            }
        } else {
            assert_clear_refusal_or_success(&env, &o, &ctx, before);
        }
        assert!(
            env.audit_bytes().starts_with(&before_bytes),
            "{ctx}: existing records changed"
        );
        env.assert_verify_ok(&ctx);
    }
    assert!(reached_main >= 18, "bdexec's main ran in the 4..=12 cases");
    // A low soft limit under a roomy hard limit: bdexec raises its own
    // soft limit for the privileged part and runs.
    env.bdexec("alice")
        .args(["--", "/usr/bin/id", "-u"])
        .rlimit(libc::RLIMIT_NOFILE, 4, 4096)
        .run()
        .expect_stdout("0\n", "NOFILE 4:4096: bdexec raises its soft limit");
}

// ------------------------------------------------- hostile environments

fn assert_hostile_env_refused(env: &TestEnv, o: &Out, ctx: &str) {
    o.expect_refusal(5, ctx);
    assert!(!env.marker_exists("marker"), "{ctx}: the command ran!\n{o}");
    assert!(
        env.audit_events("accept").is_empty(),
        "{ctx}: nothing accepted\n{o}"
    );
}

/// Under `strace -f` the kernel drops the file capabilities: exit 5.
#[test]
fn refuses_under_strace() {
    let env = test_env!("refuses_under_strace");
    env.policy(STD_POLICY);
    let bd = env.bdexec_path();
    let o = env
        .program("alice", "/usr/bin/strace")
        .args(["-f", "-o", "/dev/null"])
        .arg(&bd)
        .args(TOUCH)
        .run();
    assert_hostile_env_refused(&env, &o, "strace -f by alice");
}

/// Traced by root (whose ptrace does not strip file caps): still exit 5,
/// bdexec checks for a tracer itself.
#[test]
fn refuses_when_traced_by_root() {
    let env = test_env!("refuses_when_traced_by_root");
    env.policy(STD_POLICY);
    let o = env.sh_in_ns(
        "root",
        "strace -f -o /dev/null setpriv --reuid alice --regid alice --init-groups -- \
         \"$BDEXEC\" -- /usr/bin/touch /var/lib/marker",
    );
    assert_hostile_env_refused(&env, &o, "strace -f by root");
}

/// With no_new_privs set the file capabilities are not granted: exit 5.
#[test]
fn refuses_with_no_new_privs() {
    let env = test_env!("refuses_with_no_new_privs");
    env.policy(STD_POLICY);
    let o = env
        .program("alice", "/usr/bin/setpriv")
        .arg("--no-new-privs")
        .arg(env.bdexec_path())
        .args(TOUCH)
        .run();
    assert_hostile_env_refused(&env, &o, "setpriv --no-new-privs");
}

/// Inside a user namespace owned by a non-root user: exit 5, and the
/// message names the owner as the parent sees it (alice mapped to 0 inside
/// is uid 61001), or says it is not visible (nothing mapped).
#[test]
fn refuses_in_user_namespace() {
    let env = test_env!("refuses_in_user_namespace");
    env.policy(STD_POLICY);
    for (flags, says) in [
        (&["-U", "-r"][..], "owned by uid 61001"),
        (&["-U"][..], "whose owner is not visible from it"),
        (&["-U", "-r", "-m"][..], "owned by uid 61001"),
    ] {
        let o = env
            .program("alice", "/usr/bin/unshare")
            .args(flags)
            .arg(env.bdexec_path())
            .args(TOUCH)
            .run();
        assert_hostile_env_refused(&env, &o, &format!("unshare {flags:?}"));
        assert!(o.stderr_str().contains(says), "unshare {flags:?}: {o}");
        assert!(
            o.stderr_str()
                .contains("bdexec runs only in the initial user namespace"),
            "{o}"
        );
    }
}

/// A user namespace created by root, with root and alice mapped to
/// themselves: the kernel grants bdexec's file capabilities inside (a
/// capability set owned by the initial root applies in every namespace),
/// but from inside nothing above the parent can be seen (NS_GET_PARENT is
/// EPERM), so that the parent is the initial namespace cannot be
/// established: exit 5 with a message that says so, for alice and for
/// root inside. (Before, the EPERM itself was reported as a setup error.)
#[test]
fn refuses_in_user_namespace_created_by_root() {
    let env = test_env!("refuses_in_user_namespace_created_by_root");
    env.policy(STD_POLICY);
    // Root creates the namespace and writes its maps from outside (the
    // child waits for them before it execs anything, so its exec runs
    // with uid 0 inside and gets the namespace's capabilities).
    // With root and alice mapped, and with every uid mapped to itself:
    // that namespace's uid_map reads exactly as the initial one's, and
    // only the namespace file's inode tells them apart.
    let msg = "even one created by root of its parent";
    for map in ["0 0 65536", "0 0 4294967295"] {
        let o = env.sh_in_ns(
            "root",
            &format!(
                "mkfifo \"$SCRATCH/ready\" \"$SCRATCH/go\"\n\
                 unshare --user -- sh -c 'echo ready > \"$SCRATCH/ready\"; read x < \"$SCRATCH/go\"; \
                   exec setpriv --reuid alice --regid alice --init-groups -- \"$BDEXEC\" -- /usr/bin/touch /var/lib/marker' &\n\
                 pid=$!\n\
                 read x < \"$SCRATCH/ready\"\n\
                 echo '{map}' > /proc/$pid/uid_map\n\
                 echo '{map}' > /proc/$pid/gid_map\n\
                 echo go > \"$SCRATCH/go\"\n\
                 wait $pid; rc=$?; rm -f \"$SCRATCH/ready\" \"$SCRATCH/go\"; exit $rc",
            ),
        );
        let what = format!("alice in a namespace created by root, map {map}");
        assert_hostile_env_refused(&env, &o, &what);
        assert!(o.stderr_str().contains(msg), "{what}: {o}");
        assert!(
            o.stderr_str().contains("NS_GET_PARENT: EPERM"),
            "{what}: {o}"
        );
    }
    // Root inside a namespace root created (`unshare -U -r` as root).
    let o = env.sh_in_ns(
        "root",
        "unshare --user --map-root-user -- \"$BDEXEC\" -- /usr/bin/touch /var/lib/marker",
    );
    assert_hostile_env_refused(&env, &o, "root in a namespace created by root");
    assert!(o.stderr_str().contains(msg), "{o}");
}

/// A copy without file capabilities, and a bounding set without
/// setuid/setgid: exit 5 with a clear message.
#[test]
fn refuses_without_capabilities() {
    let env = test_env!("refuses_without_capabilities");
    env.policy(STD_POLICY);
    let plain = env.dir.join("bin/bdexec-nocaps");
    std::fs::copy(env.bdexec_path(), &plain).unwrap();
    std::process::Command::new("setcap")
        .arg("-r")
        .arg(&plain)
        .output()
        .unwrap();
    let o = env.program("alice", &plain).args(TOUCH).run();
    assert_hostile_env_refused(&env, &o, "no file capabilities");
    let o = env.sh_in_ns(
        "root",
        "setpriv --bounding-set -setuid,-setgid --reuid alice --regid alice --init-groups -- \
         \"$BDEXEC\" -- /usr/bin/touch /var/lib/marker",
    );
    assert_hostile_env_refused(&env, &o, "bounding set without setuid/setgid");
}
