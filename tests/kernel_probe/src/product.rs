//! Checks that run the **product's own** sandbox code (the `belladonna`
//! library, the code bdexec applies), not the probe's re-implementation:
//!
//! * `belladonna::sandbox::seccomp::compile` + `load` (after
//!   `belladonna::sandbox::set_no_new_privs`): the BPF program bdexec
//!   really loads, in errno, kill and log mode;
//! * `belladonna::sandbox::landlock::prepare` + `PreparedLandlock::apply`:
//!   the ruleset bdexec really builds, and whether its `Report` (what goes
//!   into the audit record) tells the truth on this kernel;
//! * the hard requirement: `prepare` with `min_abi` must return
//!   `SandboxError::LandlockAbi` on an older kernel and succeed otherwise.
//!
//! Like the rest of the probe, every restriction is applied in a forked
//! child (`in_child`); keys are `product_*`.

use super::*;
use belladonna::policy::model::{LandlockSpec, SeccompAction, SeccompSpec};
use belladonna::sandbox::landlock::{self as pl, PreparedLandlock, Report};
use belladonna::sandbox::seccomp as ps;
use belladonna::sandbox::{self as psb, SandboxError};

/// The probe's messages travel through `in_child`'s error channel; a child
/// that wants to send data on success returns `Err("OK <data>")`.
fn ok_data(o: Outcome) -> Result<String, String> {
    match o {
        Outcome::Exit(1, m) if m.starts_with("OK") => Ok(m.trim_start_matches("OK").trim().to_string()),
        o => Err(o.ok().err().unwrap_or_else(|| "child exited 0 without data".into())),
    }
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Signal(s) => format!("signal {s}"),
        Outcome::Exit(c, m) => format!("exit {c}: {m}"),
    }
}

fn spec(deny: &[&str], action: SeccompAction) -> SeccompSpec {
    SeccompSpec { allow: vec![], deny: deny.iter().map(|s| s.to_string()).collect(), action }
}

/// NNP, then the product's loader, as bdexec does (steps 6 and 8).
fn load(p: &ps::Program) -> Result<(), String> {
    psb::set_no_new_privs().map_err(|e| format!("set_no_new_privs: {e}"))?;
    ps::load(p).map_err(|e| format!("seccomp::load: {e}"))
}

fn uname_errno() -> i32 {
    // SAFETY: `utsname` is arrays of `c_char`, for which all-zero bytes are a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a live `utsname`, exactly the struct uname(2) fills.
    if unsafe { libc::uname(&mut u) } < 0 { errno() } else { 0 }
}

fn getpid_ok() -> Result<(), String> {
    // SAFETY: getpid(2) takes no arguments and cannot fail.
    expect("getpid (allowed)", if unsafe { libc::getpid() } > 0 { 0 } else { errno() }, 0)
}

fn tiocsti_high_errno() -> i32 {
    let mut p = [0; 2];
    // SAFETY: `p` is a live `[c_int; 2]`, exactly the two ints pipe(2) writes (left zero if it
    // fails).
    unsafe { libc::pipe(p.as_mut_ptr()) };
    let hi = (1u64 << 32 | seccomp::TIOCSTI as u64) as libc::c_ulong;
    let c = b'x';
    // SAFETY: `c` is a live byte, the one byte TIOCSTI would read; `p[0]` is a pipe, not a tty, and
    // the filter under test answers EPERM before the kernel looks at the argument.
    rc(unsafe { libc::ioctl(p[0], hi, &c) } as libc::c_long)
}

fn ptrace_errno() -> i32 {
    // SAFETY: PTRACE_TRACEME takes no pointers (the other arguments are ignored); it only makes the
    // parent this forked child's tracer.
    rc(unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) })
}

// ---------------------------------------------------------------- seccomp

pub fn check_seccomp() {
    // Controls: without a filter uname and PTRACE_TRACEME work.
    if let Err(e) = in_child(|| {
        expect("uname without filter", uname_errno(), 0)?;
        expect("ptrace(PTRACE_TRACEME) without filter", ptrace_errno(), 0)
    })
    .ok()
    {
        return check("product_seccomp_baseline", St::Fail, &format!("control: {e}"));
    }

    // 1. Baseline only: compile(None), what a profile without [seccomp] gets.
    match ps::compile(None) {
        Err(e) => check("product_seccomp_baseline", St::Fail, &format!("compile(None): {e}")),
        Ok(prog) => {
            let n = prog.insns().len();
            let r = in_child(|| {
                load(&prog)?;
                let (mode, filters) = seccomp_mode();
                if mode != 2 {
                    return Err(format!("/proc/self/status Seccomp: {mode}, want 2"));
                }
                // The probe's own list of baseline calls (12 syscalls,
                // TIOCSTI|1<<32, TIOCLINUX -> EPERM, FIONREAD allowed),
                // now against the product's filter.
                let k = probe_baseline_denials()?;
                expect("uname (not in the baseline)", uname_errno(), 0)?;
                getpid_ok()?;
                Err(format!("OK {k} {filters}"))
            });
            match ok_data(r) {
                Ok(d) => {
                    let v: Vec<&str> = d.split(' ').collect();
                    check(
                        "product_seccomp_baseline",
                        St::Ok("enforced"),
                        &format!(
                            "compile(None): {n} BPF insns, {} baseline names; {} denials -> EPERM incl. ptrace(PTRACE_TRACEME) and TIOCSTI|1<<32; uname/getpid/FIONREAD allowed; Seccomp_filters={}",
                            belladonna::policy::syscalls::BASELINE_DENY.len(),
                            v.first().unwrap_or(&"?"),
                            v.get(1).unwrap_or(&"?")
                        ),
                    )
                }
                Err(e) => check("product_seccomp_baseline", St::Fail, &e),
            }
        }
    }

    // 2. A deny-list profile, errno action: deny = ["uname"].
    match ps::compile(Some(&spec(&["uname"], SeccompAction::Errno))) {
        Err(e) => check("product_seccomp_errno", St::Fail, &format!("compile: {e}")),
        Ok(prog) => {
            let r = in_child(|| {
                load(&prog)?;
                expect("ptrace(PTRACE_TRACEME)", ptrace_errno(), libc::EPERM)?;
                expect("uname (denied by the profile)", uname_errno(), libc::EPERM)?;
                getpid_ok()?;
                expect("ioctl(TIOCSTI | 1<<32)", tiocsti_high_errno(), libc::EPERM)
            })
            .ok();
            match r {
                Ok(()) => check(
                    "product_seccomp_errno",
                    St::Ok("enforced"),
                    &format!("deny=[uname] errno ({} insns): ptrace, uname, TIOCSTI|1<<32 -> EPERM; getpid works", prog.insns().len()),
                ),
                Err(e) => check("product_seccomp_errno", St::Fail, &e),
            }
        }
    }

    // 3. Kill mode: the profile denial and the baseline both kill (SIGSYS).
    match ps::compile(Some(&spec(&["uname"], SeccompAction::Kill))) {
        Err(e) => check("product_seccomp_kill", St::Fail, &format!("compile: {e}")),
        Ok(prog) => {
            let uname = in_child(|| {
                load(&prog)?;
                getpid_ok()?;
                Err(format!("uname returned {}", ename(uname_errno())))
            });
            let ptrace = in_child(|| {
                load(&prog)?;
                Err(format!("ptrace returned {}", ename(ptrace_errno())))
            });
            let sigsys = |o: &Outcome| matches!(o, Outcome::Signal(libc::SIGSYS));
            if sigsys(&uname) && sigsys(&ptrace) {
                check("product_seccomp_kill", St::Ok("enforced"), "deny=[uname] kill: uname -> SIGSYS, ptrace (baseline) -> SIGSYS")
            } else {
                check(
                    "product_seccomp_kill",
                    St::Fail,
                    &format!("uname: {}; ptrace: {} (want SIGSYS for both)", describe(&uname), describe(&ptrace)),
                )
            }
        }
    }

    // 4. Log (learning) mode: the profile denial goes through, the
    //    baseline still fails with EPERM.
    if seccomp::action_avail(seccomp::RET_LOG).is_err() {
        check("product_seccomp_log", St::Unsupported, "SECCOMP_RET_LOG unavailable");
    } else {
        match ps::compile(Some(&spec(&["uname"], SeccompAction::Log))) {
            Err(e) => check("product_seccomp_log", St::Fail, &format!("compile: {e}")),
            Ok(prog) => {
                let r = in_child(|| {
                    load(&prog)?;
                    expect("uname (logged, allowed)", uname_errno(), 0)?;
                    expect("ptrace (baseline in log mode)", ptrace_errno(), libc::EPERM)
                })
                .ok();
                match r {
                    Ok(()) => check("product_seccomp_log", St::Ok("pass"), "deny=[uname] log: uname allowed, ptrace still EPERM"),
                    Err(e) => check("product_seccomp_log", St::Fail, &e),
                }
            }
        }
    }

    // 5. Architecture checks of the product's program (x32 bit, i386 entry).
    match ps::compile(None) {
        Err(e) => check("product_seccomp_arch", St::Fail, &format!("compile(None): {e}")),
        Ok(prog) => {
            let x32 = in_child(|| {
                load(&prog)?;
                // SAFETY: getpid takes no arguments; with the x32 bit set the number is still
                // getpid on an x32 kernel, ENOSYS otherwise, and the filter kills the process
                // first. No memory is involved.
                let r = unsafe { libc::syscall((seccomp::X32_SYSCALL_BIT as libc::c_long) | libc::SYS_getpid) };
                Err(format!("x32 getpid returned {r} (errno {})", ename(errno())))
            });
            let i386_control = in_child(|| {
                let r = int80_getpid();
                if r > 0 { Ok(()) } else { Err(format!("int 0x80 getpid -> {r}")) }
            });
            let i386 = match i386_control {
                Outcome::Exit(0, _) => Some(in_child(|| {
                    load(&prog)?;
                    Err(format!("int 0x80 getpid returned {}", int80_getpid()))
                })),
                _ => None,
            };
            let killed = |o: &Outcome| matches!(o, Outcome::Signal(libc::SIGSYS));
            let mut bad = Vec::new();
            if !killed(&x32) {
                bad.push(format!("x32 not killed ({})", describe(&x32)));
            }
            let note = match &i386 {
                Some(o) if killed(o) => "i386(int 0x80)=killed".to_string(),
                Some(o) => {
                    bad.push(format!("i386 not killed ({})", describe(o)));
                    String::new()
                }
                None => format!("i386=untestable ({})", describe(&i386_control)),
            };
            if bad.is_empty() {
                check("product_seccomp_arch", St::Ok("enforced"), &format!("compile(None): x32=killed {note}"))
            } else {
                check("product_seccomp_arch", St::Fail, &bad.join("; "))
            }
        }
    }
}

// ---------------------------------------------------------------- landlock

fn ll_spec(read: Vec<PathBuf>, min_abi: Option<u32>) -> LandlockSpec {
    LandlockSpec {
        read,
        write: vec![],
        exec: vec![],
        bind_tcp: None,
        connect_tcp: None,
        scope_abstract_unix: false,
        scope_signals: false,
        scope_default: false,
        min_abi,
    }
}

/// Applies `p` in a child (NNP first), then verifies the returned Report
/// against the kernel's behaviour: fs recorded ⇒ the outside file is
/// EACCES, not recorded ⇒ it is readable; /proc (a profile path) and the
/// exec path (an automatic rule) stay readable. Net and scope likewise
/// when `net_scope`. Returns the summary of the Report `apply` returned.
fn apply_and_verify(ctx: &Ctx, p: PreparedLandlock, net_scope: bool) -> Result<(String, Report), String> {
    let before = p.report().clone();
    let o = in_child(move || {
        psb::set_no_new_privs().map_err(|e| format!("set_no_new_privs: {e}"))?;
        let r = p.apply().map_err(|e| format!("apply: {e}"))?;
        expect("open /proc/self/status (profile read path)", open_errno(Path::new("/proc/self/status"), libc::O_RDONLY), 0)?;
        expect(
            &format!("read {} (exec path: automatic rule)", ctx.exe.display()),
            open_errno(&ctx.exe, libc::O_RDONLY),
            0,
        )?;
        expect(
            &format!("read {} (outside; report fs={})", ctx.outside.display(), r.fs),
            open_errno(&ctx.outside, libc::O_RDONLY),
            want(r.fs, libc::EACCES),
        )?;
        if net_scope {
            if ctx.net_problem.is_none() {
                probe_net(r.net).map_err(|e| format!("{e} (report net={})", r.net))?;
            }
            probe_scope(ctx, r.scope).map_err(|e| format!("{e} (report scope={})", r.scope))?;
        }
        Err(format!(
            "OK {} {} {} {} {} {}",
            r.abi, r.fs as u8, r.net as u8, r.scope as u8, r.partial as u8, r.applied as u8
        ))
    });
    let d = ok_data(o)?;
    let v: Vec<u32> = d.split(' ').filter_map(|x| x.parse().ok()).collect();
    if v.len() != 6 {
        return Err(format!("bad child report '{d}'"));
    }
    let after = Report {
        abi: v[0],
        fs: v[1] == 1,
        net: v[2] == 1,
        scope: v[3] == 1,
        scopes: before.scopes,
        partial: v[4] == 1,
        skipped: before.skipped.clone(),
        applied: v[5] == 1,
    };
    if !after.applied {
        return Err(format!("apply() returned applied=false: {}", after.summary()));
    }
    if after.abi != ctx.abi {
        return Err(format!("report abi={} but the kernel says {}", after.abi, ctx.abi));
    }
    // What the report claims must match the kernel's ABI (fs >= 1, net >= 4, scope >= 6).
    if after.fs != (ctx.abi >= 1) {
        return Err(format!("report fs={} on ABI {}", after.fs, ctx.abi));
    }
    if net_scope && (after.net != (ctx.abi >= decide::ABI_NET) || after.scope != (ctx.abi >= decide::ABI_SCOPE)) {
        return Err(format!("report net={} scope={} on ABI {}", after.net, after.scope, ctx.abi));
    }
    Ok((after.summary(), after))
}

pub fn check_landlock(ctx: &Ctx) {
    // Control: the outside file is readable without a ruleset.
    if let Err(e) = in_child(|| expect("read outside without ruleset", open_errno(&ctx.outside, libc::O_RDONLY), 0)).ok() {
        return check("product_landlock", St::Fail, &format!("control: {e}"));
    }

    // (a) The brief's profile: read = [/proc], best effort (no min_abi).
    match pl::prepare(&ll_spec(vec!["/proc".into()], None), &ctx.exe, 0) {
        Err(e) => check("product_landlock", St::Fail, &format!("prepare: {e}")),
        Ok(p) => match apply_and_verify(ctx, p, false) {
            Ok((summary, r)) => {
                let what = if r.fs {
                    format!("{} -> EACCES, /proc and {} readable", ctx.outside.display(), ctx.exe.display())
                } else {
                    format!("nothing enforced, {} really readable", ctx.outside.display())
                };
                check("product_landlock", St::Ok("applied"), &format!("[{summary}] {what}"))
            }
            Err(e) => check("product_landlock", St::Fail, &e),
        },
    }

    // (b) The same plus TCP ports and scopes: is the Report truthful per
    //     feature (recorded enforced ⇒ denies; recorded not ⇒ does not)?
    let mut s = ll_spec(vec!["/proc".into()], None);
    s.bind_tcp = Some(vec![ALLOWED_PORT]);
    s.connect_tcp = Some(vec![ALLOWED_PORT]);
    s.scope_abstract_unix = true;
    s.scope_signals = true;
    match pl::prepare(&s, &ctx.exe, 0) {
        Err(e) => check("product_landlock_report", St::Fail, &format!("prepare: {e}")),
        Ok(p) => match apply_and_verify(ctx, p, true) {
            Ok((summary, _)) => {
                let net = if ctx.net_problem.is_some() { " (net not verified: no loopback)" } else { "" };
                check("product_landlock_report", St::Ok("pass"), &format!("[{summary}] each feature verified as reported{net}"))
            }
            Err(e) => check("product_landlock_report", St::Fail, &e),
        },
    }
}

/// The hard requirement: `min_abi` newer than the kernel ⇒
/// `SandboxError::LandlockAbi`, nothing applied.
pub fn check_min_abi(ctx: &Ctx) {
    let abi = pl::kernel_abi();
    // min_abi = 6 (scoping, the first ABI past Debian 6.1's 2).
    let need = decide::ABI_SCOPE;
    match pl::prepare(&ll_spec(vec!["/proc".into()], Some(need)), &ctx.exe, 0) {
        Err(SandboxError::LandlockAbi { need: n, have }) if abi < need && n == need && have == abi => {
            let msg = SandboxError::LandlockAbi { need: n, have }.to_string();
            check("product_min_abi6", St::Ok("refused"), &format!("LandlockAbi {{ need: {n}, have: {have} }}: {msg}"))
        }
        Ok(p) if abi >= need => match apply_and_verify(ctx, p, false) {
            Ok((summary, _)) => check("product_min_abi6", St::Ok("applied"), &format!("kernel ABI {abi} >= {need}: [{summary}]")),
            Err(e) => check("product_min_abi6", St::Fail, &format!("prepared but: {e}")),
        },
        Ok(_) => check("product_min_abi6", St::Fail, &format!("prepare succeeded on kernel ABI {abi} < {need}")),
        Err(e) => check("product_min_abi6", St::Fail, &format!("kernel ABI {abi}: unexpected {e:?}")),
    }

    // Both outcomes on this very kernel: min_abi = ABI+1 refused, = ABI accepted.
    let above = pl::prepare(&ll_spec(vec![], Some(abi + 1)), &ctx.exe, 0);
    let equal = pl::prepare(&ll_spec(vec![], Some(abi)), &ctx.exe, 0);
    match (&above, &equal) {
        (Err(SandboxError::LandlockAbi { need, have }), Ok(_)) if *need == abi + 1 && *have == abi => check(
            "product_min_abi_both",
            St::Ok("pass"),
            &format!("min_abi={} -> LandlockAbi, min_abi={abi} -> prepared", abi + 1),
        ),
        _ => check(
            "product_min_abi_both",
            St::Fail,
            &format!("min_abi={}: {:?}; min_abi={abi}: {:?}", abi + 1, above.as_ref().err(), equal.as_ref().err()),
        ),
    }
}

// ---------------------------------------------------------------- exec

/// bdexec's order with the product's code: NNP -> landlock::apply ->
/// seccomp::load(compile(None)) -> execve of the probe itself; the exec
/// child verifies ptrace EPERM, the outside file EACCES (when fs is
/// enforced) and `Seccomp: 2` after exec.
pub fn check_exec(ctx: &Ctx) {
    let prog = match ps::compile(None) {
        Ok(p) => p,
        Err(e) => return check("product_sandbox_exec", St::Fail, &format!("compile(None): {e}")),
    };
    let p = match pl::prepare(&ll_spec(vec!["/proc".into()], None), &ctx.exe, 0) {
        Ok(p) => p,
        Err(e) => return check("product_sandbox_exec", St::Fail, &format!("prepare: {e}")),
    };
    let fs = p.report().fs;
    let exe = cstr(&ctx.exe);
    let arg1 = CString::new(EXEC_CHILD_ARG).unwrap();
    let outside = cstr(&ctx.outside);
    let fs_flag = CString::new(if fs { "fs" } else { "nofs" }).unwrap();
    let o = in_child(move || {
        psb::set_no_new_privs().map_err(|e| format!("set_no_new_privs: {e}"))?;
        p.apply().map_err(|e| format!("landlock apply: {e}"))?;
        ps::load(&prog).map_err(|e| format!("seccomp::load: {e}"))?;
        let argv = [exe.as_ptr(), arg1.as_ptr(), outside.as_ptr(), fs_flag.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        // SAFETY: `exe`, `arg1`, `outside` and `fs_flag` are NUL-terminated CStrings moved into
        // this closure and alive for the call; `argv` and `envp` are NULL-terminated arrays of
        // pointers to them. On success the process image is replaced; on failure nothing was
        // touched.
        unsafe { libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Err(format!("execve under the product's sandbox: {}", io::Error::last_os_error()))
    });
    match o {
        Outcome::Exit(EXEC_CHILD_OK, _) => check(
            "product_sandbox_exec",
            St::Ok("pass"),
            &format!(
                "NNP+landlock::apply({})+seccomp::load, execve ok (exec path granted automatically), ptrace EPERM after exec",
                if fs { "fs" } else { "nothing enforced" }
            ),
        ),
        o => check("product_sandbox_exec", St::Fail, &o.ok().err().unwrap_or_else(|| "exited 0".into())),
    }
}
