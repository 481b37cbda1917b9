//! `bdctl doctor`: what this host really provides and whether the
//! installation is sound: Landlock ABI, seccomp, the installed bdexec's
//! mode and file capabilities, policy and state permissions, what each
//! sandbox profile would enforce here, and rules whose capability grants
//! the installed binary cannot give. `bdctl doctor --otlp URL` probes an
//! OTLP collector instead.
#![forbid(unsafe_code)]

use super::exit;
use crate::base::secure_fs;
use crate::policy::load;
use crate::policy::model::Policy;
use crate::sandbox::capgrant::{self, CapsSet};
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// Rules whose `caps` the binary's permitted set lacks: (rule, missing).
pub fn rules_lacking_caps(policy: &Policy, permitted: &CapsSet) -> Vec<(String, Vec<String>)> {
    policy
        .rules
        .iter()
        .filter_map(|r| {
            let grant = capgrant::parse_caps(&r.caps).ok()?;
            let mut need = capgrant::names(&grant.difference(permitted).copied().collect());
            if !r.caps.is_empty() && !permitted.contains(&caps::Capability::CAP_SETPCAP) {
                need.push("setpcap".into());
            }
            (!need.is_empty()).then(|| (r.name.clone(), need))
        })
        .collect()
}

fn check_dir(out: &mut String, path: &str, want_private: bool) -> bool {
    match secure_fs::open_trusted_dir(Path::new(path)) {
        Ok(fd) => match nix::sys::stat::fstat(&fd) {
            Ok(st) if want_private && st.st_mode & 0o077 != 0 => {
                let _ = writeln!(
                    out,
                    "  WARN {path}: mode {:04o}, expected 0700",
                    st.st_mode & 0o7777
                );
                false
            }
            Ok(st) => {
                let _ = writeln!(out, "  ok   {path}: root, {:04o}", st.st_mode & 0o7777);
                true
            }
            Err(e) => {
                let _ = writeln!(out, "  FAIL {path}: fstat: {}", e.desc());
                false
            }
        },
        Err(e) if e.is_not_found() => {
            let _ = writeln!(out, "  info {path}: missing (created on first use)");
            true
        }
        Err(e) => {
            let _ = writeln!(out, "  FAIL {e}");
            false
        }
    }
}

/// The mode and file capabilities of an installed bdexec (or its twin):
/// whether they are sound, and the permitted set.
fn check_binary(out: &mut String, path: &Path) -> (bool, CapsSet) {
    let mut ok = true;
    let mut permitted = CapsSet::new();
    let m = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(out, "  FAIL {e}");
            return (false, permitted);
        }
    };
    let mode = m.permissions().mode();
    if mode & 0o6000 != 0 {
        ok = false;
        let _ = writeln!(
            out,
            "  FAIL mode {:04o}: a setuid/setgid bit is set (must not be)",
            mode & 0o7777
        );
    } else {
        let _ = writeln!(
            out,
            "  ok   mode {:04o}, no setuid/setgid bit",
            mode & 0o7777
        );
    }
    match capgrant::file_permitted(path) {
        Ok(p) if p.is_empty() => {
            ok = false;
            let _ = writeln!(
                out,
                "  FAIL no file capabilities: run `make install` (setcap)"
            );
        }
        Ok(p) => {
            let _ = writeln!(
                out,
                "  file capabilities (permitted): {}",
                capgrant::names(&p).join(",")
            );
            for need in [caps::Capability::CAP_SETUID, caps::Capability::CAP_SETGID] {
                if !p.contains(&need) {
                    ok = false;
                    let _ = writeln!(
                        out,
                        "  FAIL {} missing: it refuses to run",
                        need.to_string().to_ascii_lowercase()
                    );
                }
            }
            permitted = p;
        }
        Err(e) => {
            ok = false;
            let _ = writeln!(out, "  FAIL {e}");
        }
    }
    (ok, permitted)
}

/// The twin the static bdexec hands PAM to (src/exec/twin.rs): present
/// beside it, root's and not writable by group or others (as bdexec
/// checks it), the same capabilities. Without it every call that needs
/// PAM or an NSS source after `files` is refused.
fn check_twin(out: &mut String, bdexec: &Path, permitted: &CapsSet) -> bool {
    let twin = std::fs::canonicalize(bdexec)
        .ok()
        .and_then(|p| crate::base::paths::twin_beside(&p));
    let Some(twin) = twin else {
        let _ = writeln!(out, "  FAIL no directory above {}", bdexec.display());
        return false;
    };
    let _ = writeln!(out, "its twin for PAM ({}):", twin.display());
    let (mut ok, twin_caps) = check_binary(out, &twin);
    let trusted = [twin.parent().unwrap_or(&twin), twin.as_path()]
        .into_iter()
        .map(|p| {
            let st = nix::sys::stat::stat(p).map_err(|e| e.to_string())?;
            crate::base::secure_fs::check_trusted(p, &st).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<()>, String>>();
    match trusted {
        Ok(_) => {
            let _ = writeln!(out, "  ok   root's, not writable by group or others");
        }
        Err(e) => {
            ok = false;
            let _ = writeln!(out, "  FAIL {e}: bdexec refuses to use it");
        }
    }
    if ok && twin_caps != *permitted {
        ok = false;
        let _ = writeln!(
            out,
            "  FAIL its capabilities are not bdexec's: run `make install` (setcap on both)"
        );
    }
    ok
}

/// The report and whether everything essential is sound.
pub fn report(bdexec: &Path, policy: Option<&Policy>) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    let _ = writeln!(out, "kernel:");
    let uname = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned());
    let _ = writeln!(
        out,
        "  release {}",
        uname.unwrap_or_else(|_| "unknown".into())
    );
    let _ = writeln!(
        out,
        "  landlock: {}",
        crate::sandbox::landlock::kernel_summary()
    );
    let _ = writeln!(out, "  seccomp: {}", seccomp_summary());
    let _ = writeln!(
        out,
        "  seccomp filters: built by bdexec's own BPF emitter ({})",
        crate::sandbox::seccomp::COMPILER_VERSION
    );

    let _ = writeln!(out, "installed bdexec ({}):", bdexec.display());
    let (bin_ok, permitted) = check_binary(&mut out, bdexec);
    ok &= bin_ok;
    ok &= check_twin(&mut out, bdexec, &permitted);

    let _ = writeln!(out, "files:");
    ok &= check_dir(&mut out, crate::base::paths::CONF_DIR, false);
    ok &= check_dir(&mut out, crate::base::paths::LOG_DIR, true);
    ok &= check_dir(&mut out, crate::base::paths::RUN_DIR, true);
    ok &= check_dir(&mut out, crate::base::paths::LIB_DIR, true);

    if let Some(p) = policy {
        let _ = writeln!(out, "sandbox profiles on this kernel:");
        if p.sandboxes.is_empty() {
            let _ = writeln!(out, "  (none defined)");
        }
        for s in &p.sandboxes {
            let _ = writeln!(out, "  {}: {}", s.name, crate::sandbox::describe(s));
        }
        let lacking = rules_lacking_caps(p, &permitted);
        let _ = writeln!(out, "capability grants:");
        if lacking.is_empty() {
            let _ = writeln!(
                out,
                "  ok   every rule's caps are in bdexec's permitted set"
            );
        }
        for (rule, need) in lacking {
            ok = false;
            let _ = writeln!(
                out,
                "  FAIL rule {rule} grants {} which the installed bdexec lacks (add to BDEXEC_CAPS, make install)",
                need.join(",")
            );
        }
    }
    (out, ok)
}

/// `bdctl doctor [--bdexec PATH]`: the report, then the policy's state.
pub fn run(bdexec: &Path) -> i32 {
    let loaded = load::load_policy();
    let (text, ok) = report(bdexec, loaded.as_ref().ok().map(|l| &l.policy));
    print!("{text}");
    match &loaded {
        Ok(_) => println!("policy: ok"),
        Err(e) => println!("policy: FAIL {e}"),
    }
    if ok && loaded.is_ok() {
        println!("doctor: everything essential is in place");
        exit::OK
    } else {
        println!("doctor: problems found (FAIL lines above)");
        exit::FAILED
    }
}

/// `bdctl doctor --otlp URL`.
pub fn otlp(url: &str) -> i32 {
    match crate::telemetry::export::probe(url, Duration::from_secs(5)) {
        Ok(line) => {
            println!("{line}");
            exit::OK
        }
        Err(line) => {
            println!("{line}");
            exit::FAILED
        }
    }
}

fn seccomp_summary() -> String {
    let mode = crate::sys::kernel::seccomp_mode().unwrap_or(-1);
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    match mode {
        -1 => "not available in this kernel".into(),
        0 => format!(
            "available (this process unfiltered); actions: {}",
            actions.trim()
        ),
        m => format!(
            "available; this process is already filtered (mode {m}); actions: {}",
            actions.trim()
        ),
    }
}
