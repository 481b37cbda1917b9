//! Capability-only grants: `caps = ["net_bind_service"]` in a rule.
//!
//! The target runs as its (usually non-root) user with exactly the granted
//! capabilities: permitted = effective = inheritable = ambient = bounding =
//! grant. For a uid-0 target, `SECBIT_NOROOT` (locked) makes the exec of a
//! uid-0 process *not* grant the full root set, so it also keeps only the
//! grant (and the bounding set caps anything a file capability could add).
//!
//! bdexec's file capabilities must include `cap_setpcap` (bounding-set
//! drop, securebits) and every granted capability (a process can only keep
//! what it has): [`missing_from_binary`] tells which are missing.
//!
//! Sequence (see the module docs of [`crate::sandbox`]):
//! [`before_id_switch`] -> setgroups/setresgid/setresuid ->
//! [`after_id_switch`]. The uid switch must NOT clear the permitted set by
//! hand (KEEPCAPS keeps it across the switch on purpose).
#![cfg_attr(not(test), forbid(unsafe_code))]

use super::SandboxError;
use crate::sys::caps::{self as capsys, CapSets};
use caps::{CapSet, Capability, CapsHashSet};
use std::path::Path;
use std::str::FromStr;

/// A set of capabilities.
pub type CapsSet = CapsHashSet;

const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
/// Left clear and locked: a command that changes its uids away from 0
/// loses its capabilities (the kernel's fixup), the safe direction.
const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
const SECBIT_KEEP_CAPS: libc::c_ulong = 1 << 4;
const SECBIT_KEEP_CAPS_LOCKED: libc::c_ulong = 1 << 5;

fn cerr(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Caps(format!("{what}: {e}"))
}

/// Parse capability names (`net_bind_service`, `cap_net_bind_service`,
/// any case). An unknown name is an error naming it.
pub fn parse_caps(names: &[String]) -> Result<CapsSet, SandboxError> {
    let mut out = CapsSet::new();
    for n in names {
        let up = n.trim().to_ascii_uppercase();
        let full = if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        let c = Capability::from_str(&full)
            .map_err(|_| SandboxError::Profile(format!("unknown capability '{n}'")))?;
        out.insert(c);
    }
    Ok(out)
}

/// Lower-case names without `cap_`, sorted (for messages and records).
pub fn names(set: &CapsSet) -> Vec<String> {
    let mut v: Vec<String> = set
        .iter()
        .map(|c| {
            c.to_string()
                .to_ascii_lowercase()
                .trim_start_matches("cap_")
                .to_string()
        })
        .collect();
    v.sort();
    v
}

/// Granted capabilities that this process does not have in its permitted
/// set (bdexec: its file capabilities lack them; the rule cannot work).
pub fn missing_from_binary(grant: &CapsSet) -> CapsSet {
    let have = capsys::get().map(|s| s.permitted).unwrap_or(0);
    grant
        .iter()
        .filter(|c| have & c.bitmask() == 0)
        .copied()
        .collect()
}

/// `set` as a bit mask (bit n: capability number n).
fn mask(set: &CapsSet) -> u64 {
    set.iter().fold(0, |m, c| m | c.bitmask())
}

/// The capabilities of `bits` this crate can name, for messages.
fn of_mask(bits: u64) -> CapsSet {
    caps::all()
        .into_iter()
        .filter(|c| bits & c.bitmask() != 0)
        .collect()
}

/// The permitted capabilities in a file's `security.capability` xattr
/// (for `bdctl doctor`, which runs without bdexec's capabilities). An
/// empty set when the file has none.
pub fn file_permitted(path: &Path) -> Result<CapsSet, SandboxError> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SandboxError::Caps(format!("{}: NUL in path", path.display())))?;
    let mut buf = [0u8; 24];
    let n = match crate::sys::fs::getxattr(&p, c"security.capability", &mut buf) {
        Ok(n) => n,
        Err(nix::Error::ENODATA) => return Ok(CapsSet::new()),
        Err(e) => return Err(cerr(&format!("{}: getxattr", path.display()), e.desc())),
    };
    if n < 12 {
        return Err(SandboxError::Caps(format!(
            "{}: short security.capability",
            path.display()
        )));
    }
    let u = |o: usize| u32::from_le_bytes(buf[o..o + 4].try_into().unwrap());
    let rev = u(0) & 0xff00_0000;
    let lo = u(4) as u64;
    let hi = if rev >= 0x0200_0000 && n >= 20 {
        u(12) as u64
    } else {
        0
    };
    Ok(of_mask(lo | (hi << 32)))
}

fn get_securebits() -> Result<libc::c_ulong, SandboxError> {
    crate::sys::kernel::get_securebits().map_err(|e| cerr("PR_GET_SECUREBITS", e.desc()))
}

fn set_securebits(bits: libc::c_ulong) -> Result<(), SandboxError> {
    crate::sys::kernel::set_securebits(bits)
        .map_err(|e| cerr("PR_SET_SECUREBITS (needs cap_setpcap)", e.desc()))?;
    if get_securebits()? != bits {
        return Err(SandboxError::Caps("securebits did not stick".into()));
    }
    Ok(())
}

/// CAP_SETPCAP in the effective set (`on`) or out of it.
fn effective_setpcap(on: bool) -> Result<(), SandboxError> {
    let what = if on {
        "raising cap_setpcap (bdexec's file capabilities must include it)"
    } else {
        "lowering cap_setpcap"
    };
    let bit = Capability::CAP_SETPCAP.bitmask();
    capsys::update(|s| CapSets {
        effective: if on {
            s.effective | bit
        } else {
            s.effective & !bit
        },
        ..s
    })
    .map(drop)
    .map_err(|e| cerr(what, e.desc()))
}

fn raise_setpcap() -> Result<(), SandboxError> {
    effective_setpcap(true)
}

/// Before setgroups/setresgid/setresuid: check the grant is available,
/// reduce the bounding set to exactly `grant`, set KEEPCAPS for a non-root
/// target (so the permitted set survives the switch) and SECBIT_NOROOT
/// (locked) so an exec as uid 0 does not grant full root.
pub fn before_id_switch(grant: &CapsSet, target_uid: u32) -> Result<(), SandboxError> {
    let missing = missing_from_binary(grant);
    if !missing.is_empty() {
        return Err(SandboxError::Caps(format!(
            "bdexec lacks {} in its file capabilities (setcap them on bdexec, see `bdctl doctor`)",
            names(&missing).join(",")
        )));
    }
    raise_setpcap()?;
    let keep = mask(grant);
    for n in 0..64u8 {
        if keep & (1 << n) != 0 {
            continue;
        }
        match capsys::bounding_drop(n) {
            Ok(()) => {}
            // Past the last capability this kernel knows (numbers are
            // dense from 0).
            Err(nix::Error::EINVAL) => break,
            Err(e) => {
                return Err(cerr(
                    &format!("dropping capability {n} from the bounding set"),
                    e.desc(),
                ));
            }
        }
    }
    let mut bits = get_securebits()? | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED;
    if target_uid != 0 {
        bits |= SECBIT_KEEP_CAPS;
    }
    set_securebits(bits)?;
    effective_setpcap(false)
}

/// After the uid switch: KEEPCAPS off (locked), NO_SETUID_FIXUP off
/// (locked: even a command granted `setpcap` cannot keep its capabilities
/// across a change of its uids away from 0), permitted = effective =
/// inheritable = ambient = grant, then verify all five sets.
pub fn after_id_switch(grant: &CapsSet) -> Result<(), SandboxError> {
    raise_setpcap()?;
    let bits = (get_securebits()? & !SECBIT_KEEP_CAPS & !SECBIT_NO_SETUID_FIXUP)
        | SECBIT_KEEP_CAPS_LOCKED
        | SECBIT_NO_SETUID_FIXUP_LOCKED
        | SECBIT_NOROOT
        | SECBIT_NOROOT_LOCKED;
    set_securebits(bits)?;
    let g = mask(grant);
    capsys::set(CapSets {
        effective: g,
        permitted: g,
        inheritable: g,
    })
    .map_err(|e| {
        cerr(
            "setting the effective, permitted and inheritable sets",
            e.desc(),
        )
    })?;
    for c in grant {
        caps::raise(None, CapSet::Ambient, *c)
            .map_err(|e| cerr(&format!("raising ambient {c}"), e))?;
    }
    verify(grant)
}

/// Every capability set (bounding included) equals `grant`: one capget
/// for permitted, effective and inheritable; the ambient set asked for
/// the granted capabilities only (the kernel keeps it within permitted
/// and inheritable, capabilities(7), both just read as the grant); the
/// bounding set asked for every capability the kernel knows.
pub fn verify(grant: &CapsSet) -> Result<(), SandboxError> {
    let want = mask(grant);
    let sets = capsys::get().map_err(|e| cerr("reading capabilities", e.desc()))?;
    let mut ambient = 0;
    for c in grant {
        if caps::has_cap(None, CapSet::Ambient, *c).map_err(|e| cerr("reading Ambient", e))? {
            ambient |= c.bitmask();
        }
    }
    let mut bounding = 0;
    for n in 0..64u8 {
        match capsys::bounding_has(n) {
            Ok(true) => bounding |= 1 << n,
            Ok(false) => {}
            Err(nix::Error::EINVAL) => break,
            Err(e) => return Err(cerr("reading Bounding", e.desc())),
        }
    }
    for (set, have) in [
        (CapSet::Permitted, sets.permitted),
        (CapSet::Effective, sets.effective),
        (CapSet::Inheritable, sets.inheritable),
        (CapSet::Ambient, ambient),
        (CapSet::Bounding, bounding),
    ] {
        if have != want {
            return Err(SandboxError::Caps(format!(
                "{set:?} set is [{}], expected [{}]",
                names(&of_mask(have)).join(","),
                names(grant).join(",")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let s = parse_caps(&["net_bind_service".into(), "CAP_CHOWN".into()]).unwrap();
        assert!(s.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert!(s.contains(&Capability::CAP_CHOWN));
        assert_eq!(names(&s), vec!["chown", "net_bind_service"]);
        let e = parse_caps(&["net_bind_servic".into()]).unwrap_err();
        assert!(e.to_string().contains("'net_bind_servic'"), "{e}");
    }

    #[test]
    fn file_caps_of_plain_file() {
        assert!(file_permitted(Path::new("/bin/true")).unwrap().is_empty());
    }

    /// As root: a forked child grants itself net_bind_service, becomes
    /// nobody, and can bind port 80 but not chown; all sets verified.
    #[test]
    fn grant_in_child() {
        if nix::unistd::geteuid().as_raw() != 0
            || !missing_from_binary(
                &parse_caps(&["net_bind_service".into(), "setpcap".into()]).unwrap(),
            )
            .is_empty()
        {
            crate::base::testhook::skipped(
                "sandbox::capgrant::grant_in_child",
                "needs root with full capabilities",
            );
            return;
        }
        let grant = parse_caps(&["net_bind_service".into()]).unwrap();
        // SAFETY: the child makes syscalls and uses the caps crate (glibc
        // malloc is fork-safe), then _exits.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let code = (|| {
                    if before_id_switch(&grant, 65534).is_err() {
                        return 30;
                    }
                    if libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setresgid(65534, 65534, 65534) != 0
                        || libc::setresuid(65534, 65534, 65534) != 0
                    {
                        return 31;
                    }
                    if let Err(e) = after_id_switch(&grant) {
                        eprintln!("{e}");
                        return 32;
                    }
                    let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                    let mut a: libc::sockaddr_in = std::mem::zeroed();
                    a.sin_family = libc::AF_INET as u16;
                    a.sin_port = 80u16.to_be();
                    a.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
                    let r = libc::bind(
                        s,
                        &a as *const _ as *const libc::sockaddr,
                        std::mem::size_of::<libc::sockaddr_in>() as u32,
                    );
                    if r != 0 && *libc::__errno_location() != libc::EADDRINUSE {
                        return 33;
                    }
                    if libc::chown(c"/".as_ptr(), 65534, 65534) == 0 {
                        return 34;
                    }
                    0
                })();
                libc::_exit(code);
            }
            let mut st = 0;
            assert_eq!(libc::waitpid(pid, &mut st, 0), pid);
            assert!(libc::WIFEXITED(st), "{st:#x}");
            assert_eq!(libc::WEXITSTATUS(st), 0);
        }
    }

    #[test]
    fn root_target_in_child() {
        if nix::unistd::geteuid().as_raw() != 0
            || !missing_from_binary(&parse_caps(&["setpcap".into(), "chown".into()]).unwrap())
                .is_empty()
        {
            crate::base::testhook::skipped(
                "sandbox::capgrant::root_target_in_child",
                "needs root with full capabilities",
            );
            return;
        }
        let grant = parse_caps(&["chown".into(), "setuid".into(), "setpcap".into()]).unwrap();
        // SAFETY: as in grant_in_child.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let code = (|| {
                    if before_id_switch(&grant, 0).is_err() {
                        return 40;
                    }
                    if libc::setresuid(0, 0, 0) != 0 {
                        return 41;
                    }
                    if after_id_switch(&grant).is_err() {
                        return 42;
                    }
                    if get_securebits().unwrap_or(0) & SECBIT_NOROOT == 0 {
                        return 43;
                    }
                    // cap_sys_admin is gone even though uid is 0.
                    if caps::has_cap(None, CapSet::Permitted, Capability::CAP_SYS_ADMIN)
                        .unwrap_or(true)
                    {
                        return 44;
                    }
                    // NO_SETUID_FIXUP clear and locked: setpcap cannot set
                    // it, and leaving uid 0 clears the capabilities.
                    let bits = get_securebits().unwrap_or(0);
                    if bits & SECBIT_NO_SETUID_FIXUP != 0
                        || bits & SECBIT_NO_SETUID_FIXUP_LOCKED == 0
                    {
                        return 45;
                    }
                    if set_securebits(bits | SECBIT_NO_SETUID_FIXUP).is_ok() {
                        return 46;
                    }
                    if libc::setresuid(65534, 65534, 65534) != 0 {
                        return 47;
                    }
                    if !caps::read(None, CapSet::Permitted).is_ok_and(|p| p.is_empty()) {
                        return 48;
                    }
                    0
                })();
                libc::_exit(code);
            }
            let mut st = 0;
            assert_eq!(libc::waitpid(pid, &mut st, 0), pid);
            assert!(libc::WIFEXITED(st), "{st:#x}");
            assert_eq!(libc::WEXITSTATUS(st), 0);
        }
    }
}
