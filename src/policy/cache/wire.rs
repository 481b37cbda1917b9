//! The binary form of a parsed policy piece, kept in the policy cache so
//! that a call merges its pieces without running the TOML parser
//! (docs/performance.md "The parsed pieces in the cache").
//!
//! Integers are LEB128 varints (canonical: the shortest form only);
//! `bool` one byte, 0 or 1; strings a varint length and their UTF-8
//! bytes; paths a byte 0 for the piece's own file (every origin names
//! it: the file is not repeated) or 1, a varint length and the bytes;
//! `Option` a byte 0 or 1 then the value; `Vec` a varint count then the
//! items; enums a byte tag then their fields; structs their fields in
//! declaration order. Every struct is written and read through a
//! pattern that names all of its fields, so a field added to the model
//! without a place here does not compile. Decoding checks everything it
//! reads (lengths in bounds, tags known, UTF-8, the whole input used)
//! and returns `None` on any fault: the cache then parses the policy
//! from its files.
//!
//! The form is private to one build: the cache key holds the binary's
//! identity, so a blob is only ever read by the build that wrote it.
#![forbid(unsafe_code)]

use crate::policy::audit::{AuditSettings, Sink, Space};
use crate::policy::caller::{CallerOptions, PreserveEnv};
use crate::policy::model::{
    Action, Approval, Approver, Args, Auth, CommandKind, CommandSpec, Decoy, Defaults, DriftMode,
    LandlockSpec, Origin, Principal, Rate, Rule, SandboxProfile, SeccompAction, SeccompSpec,
    Session,
};
use crate::policy::parse::{IncidentFragment, PolicyFragment};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A parsed piece as bytes (paths equal to `f.file` are written as a
/// reference to it: [`decode`] is given the file back).
pub(super) fn encode(f: &PolicyFragment) -> Vec<u8> {
    let mut w = Wr {
        out: Vec::with_capacity(128),
        file: &f.file,
    };
    f.put(&mut w);
    w.out
}

/// The piece `b` holds, its own file being `file`; `None` when `b` is not
/// exactly one piece of that file (a piece names its own file by
/// reference, so one naming another is not one [`encode`] writes).
pub(super) fn decode(b: &[u8], file: &std::path::Path) -> Option<PolicyFragment> {
    let mut r = Rd { b, pos: 0, file };
    let f = PolicyFragment::get(&mut r)?;
    (r.pos == b.len() && f.file == file).then_some(f)
}

struct Wr<'a> {
    out: Vec<u8>,
    file: &'a std::path::Path,
}

impl Wr<'_> {
    fn push(&mut self, b: u8) {
        self.out.push(b);
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn len_bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.out.extend_from_slice(b);
    }
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
    file: &'a std::path::Path,
}

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }

    /// A LEB128 varint in its shortest form (a longer form of the same
    /// value is refused: one value, one encoding).
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return None;
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return (b != 0 || shift == 0).then_some(v);
            }
        }
        None
    }

    /// A count of items that each take at least one byte: never more
    /// than the bytes left (no allocation from a forged count).
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.varint()?).ok()?;
        (n <= self.b.len() - self.pos).then_some(n)
    }

    fn len_bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.take(n)
    }
}

trait Wire: Sized {
    fn put(&self, w: &mut Wr<'_>);
    fn get(r: &mut Rd<'_>) -> Option<Self>;
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn put(&self, w: &mut Wr<'_>) {
                w.varint(u64::from(*self));
            }
            fn get(r: &mut Rd<'_>) -> Option<Self> {
                <$t>::try_from(r.varint()?).ok()
            }
        }
    )*};
}
wire_int!(u8, u16, u32, u64);

impl Wire for bool {
    fn put(&self, w: &mut Wr<'_>) {
        w.push(u8::from(*self));
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        match r.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

impl Wire for String {
    fn put(&self, w: &mut Wr<'_>) {
        w.len_bytes(self.as_bytes());
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        std::str::from_utf8(r.len_bytes()?).ok().map(str::to_owned)
    }
}

impl Wire for PathBuf {
    fn put(&self, w: &mut Wr<'_>) {
        if self.as_path() == w.file {
            w.push(0);
        } else {
            w.push(1);
            w.len_bytes(self.as_os_str().as_bytes());
        }
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        match r.byte()? {
            0 => Some(r.file.to_path_buf()),
            1 => {
                let p = PathBuf::from(OsStr::from_bytes(r.len_bytes()?));
                // The file itself is always written as a reference.
                (p.as_path() != r.file).then_some(p)
            }
            _ => None,
        }
    }
}

impl Wire for [u8; 32] {
    fn put(&self, w: &mut Wr<'_>) {
        w.out.extend_from_slice(self);
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        r.take(32)?.try_into().ok()
    }
}

impl<T: Wire> Wire for Option<T> {
    fn put(&self, w: &mut Wr<'_>) {
        match self {
            None => w.push(0),
            Some(v) => {
                w.push(1);
                v.put(w);
            }
        }
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        match r.byte()? {
            0 => Some(None),
            1 => T::get(r).map(Some),
            _ => None,
        }
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn put(&self, w: &mut Wr<'_>) {
        w.varint(self.len() as u64);
        self.iter().for_each(|v| v.put(w));
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        let n = r.count()?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::get(r)?);
        }
        Some(v)
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    fn put(&self, w: &mut Wr<'_>) {
        self.0.put(w);
        self.1.put(w);
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        Some((A::get(r)?, B::get(r)?))
    }
}

/// A struct, field by field; the pattern names every field, so a new
/// field is a compile error until it is added here.
macro_rules! wire_struct {
    ($($t:ident { $($f:ident),* $(,)? })*) => {$(
        impl Wire for $t {
            fn put(&self, w: &mut Wr<'_>) {
                let $t { $($f),* } = self;
                $($f.put(w);)*
            }
            fn get(r: &mut Rd<'_>) -> Option<Self> {
                $(let $f = Wire::get(r)?;)*
                Some($t { $($f),* })
            }
        }
    )*};
}

wire_struct! {
    PolicyFragment {
        file, version, defaults, rules, sandboxes, sandbox_table, sandbox_refs,
        approvers, approvers_table, approver_refs, incident, audit,
    }
    IncidentFragment {
        auto_freeze, freeze_score_ppm, decoy_floor, decoy_factor_ppm, decoy_window,
        unfreeze_approvals, unfreeze_approvers, trace_sample_ppm, table, decoys, break_glass,
    }
    Defaults {
        secure_path, env_keep, setenv, umask, sandbox, drift, pam_account,
        pam_account_memo, timestamp_timeout, telemetry_sample_ppm, session,
    }
    Session { monitor, use_pty, require_tty, record, record_input, noexec }
    Origin { file, line, col }
    Rule {
        name, users, groups, run_as, commands, auth, action, setenv, sandbox, caps,
        approval, rate, session, env_keep, secure_path, timestamp_timeout,
        run_as_groups, chdir, edit, caller, origin,
    }
    CommandSpec { path, args, digest, kind }
    Approval { approvals, approvers, nonce_namespace }
    Rate { count, per_secs }
    Approver { name, key, epoch, origin }
    SandboxProfile { name, landlock, seccomp, origin }
    LandlockSpec {
        read, write, exec, bind_tcp, connect_tcp, scope_abstract_unix, scope_signals,
        scope_default, min_abi,
    }
    SeccompSpec { allow, deny, action }
    Decoy { name, users, groups, run_as, commands, auth }
    AuditSettings { low_space, critical_space, on_full, on_io_error }
    CallerOptions { preserve_env, preserve_groups, timeout }
}

/// An enum without fields: one byte; the match in `put` is exhaustive,
/// so a new variant is a compile error until it has a tag.
macro_rules! wire_tags {
    ($($t:ident { $($v:ident = $n:literal),* $(,)? })*) => {$(
        impl Wire for $t {
            fn put(&self, w: &mut Wr<'_>) {
                w.push(match self { $($t::$v => $n),* });
            }
            fn get(r: &mut Rd<'_>) -> Option<Self> {
                match r.byte()? {
                    $($n => Some($t::$v),)*
                    _ => None,
                }
            }
        }
    )*};
}

wire_tags! {
    Action { Allow = 0, Deny = 1 }
    Auth { None = 0, Password = 1, Approval = 2 }
    CommandKind { File = 0, Dir = 1, All = 2 }
    DriftMode { Warn = 0, Deny = 1 }
    SeccompAction { Kill = 0, Errno = 1, Log = 2 }
    Sink { Deny = 0, Journald = 1 }
}

impl Wire for Principal {
    fn put(&self, w: &mut Wr<'_>) {
        match self {
            Principal::Name(s) => {
                w.push(0);
                s.put(w);
            }
            Principal::Id(i) => {
                w.push(1);
                i.put(w);
            }
            Principal::All => w.push(2),
            Principal::GroupName(s) => {
                w.push(3);
                s.put(w);
            }
            Principal::GroupId(i) => {
                w.push(4);
                i.put(w);
            }
        }
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        Some(match r.byte()? {
            0 => Principal::Name(Wire::get(r)?),
            1 => Principal::Id(Wire::get(r)?),
            2 => Principal::All,
            3 => Principal::GroupName(Wire::get(r)?),
            4 => Principal::GroupId(Wire::get(r)?),
            _ => return None,
        })
    }
}

impl Wire for Args {
    fn put(&self, w: &mut Wr<'_>) {
        match self {
            Args::None => w.push(0),
            Args::Exact(v) => {
                w.push(1);
                v.put(w);
            }
            Args::Prefix(v) => {
                w.push(2);
                v.put(w);
            }
        }
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        Some(match r.byte()? {
            0 => Args::None,
            1 => Args::Exact(Wire::get(r)?),
            2 => Args::Prefix(Wire::get(r)?),
            _ => return None,
        })
    }
}

impl Wire for Space {
    fn put(&self, w: &mut Wr<'_>) {
        match self {
            Space::Percent(p) => {
                w.push(0);
                p.put(w);
            }
            Space::Bytes(b) => {
                w.push(1);
                b.put(w);
            }
        }
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        Some(match r.byte()? {
            0 => Space::Percent(Wire::get(r)?),
            1 => Space::Bytes(Wire::get(r)?),
            _ => return None,
        })
    }
}

impl Wire for PreserveEnv {
    fn put(&self, w: &mut Wr<'_>) {
        match self {
            PreserveEnv::All => w.push(0),
            PreserveEnv::Only(v) => {
                w.push(1);
                v.put(w);
            }
        }
    }
    fn get(r: &mut Rd<'_>) -> Option<Self> {
        Some(match r.byte()? {
            0 => PreserveEnv::All,
            1 => PreserveEnv::Only(Wire::get(r)?),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse::parse_policy;
    use std::path::Path;

    /// A policy that sets every key the language has, so that every
    /// field and every variant above is written with a value other than
    /// its default.
    const EVERYTHING: &str = r##"version = 1

[defaults]
secure_path = "/usr/bin:/bin"
env_keep = ["TERM", "LC_*"]
setenv = { EDITOR = "vi" }
umask = "027"
sandbox = "web"
drift = "deny"
pam_account = false
pam_account_memo = false
timestamp_timeout = "2m"
telemetry_sample_rate = 0.5
monitor = true
use_pty = true
require_tty = false

[sandbox.web.landlock]
read = ["/usr", "/etc"]
write = ["/tmp"]
exec = ["/usr/bin"]
bind_tcp = [8080]
connect_tcp = [443, 80]
scope = ["signal"]
min_abi = 3

[sandbox.web.seccomp]
deny = ["ptrace", "mount"]
action = "log"

[sandbox.box.landlock]
read = ["/"]

[sandbox.box.seccomp]
allow = ["read", "write"]
action = "kill"

[sandbox.quiet.seccomp]
deny = ["reboot"]
action = "errno"

[approvers.ann]
key = "KEY"
epoch = 3

[incident]
auto_freeze = true
freeze_score = 0.8
decoy_floor = 4
decoy_factor = 2.5
decoy_window = "15m"
unfreeze_approvals = 1
unfreeze_approvers = ["ann"]
trace_sample_rate = 0.25

[audit]
low_space = "10%"
critical_space = "512M"
on_full = "journald"
on_io_error = "deny"

[[decoy]]
name = "bait"
users = ["mallory"]
groups = ["ops"]
commands = ["/usr/bin/secret"]

[[rule]]
name = "everything"
users = ["alice", "#1001"]
groups = ["ops", "#50"]
run_as = ["root", "#33"]
run_as_groups = ["adm"]
commands = ["/bin/ls", "/usr/bin/id -u", "/usr/bin/git *", "/srv/tools/"]
auth = "approval"
approvals = 1
approvers = ["ann"]
nonce_namespace = "ops"
rate = "5/1m"
setenv = { PAGER = "less" }
sandbox = "box"
caps = ["CAP_NET_BIND_SERVICE"]
env_keep = ["HOME"]
secure_path = "/opt/bin"
timestamp_timeout = "0s"
chdir = ["/srv"]
edit = ["/etc/motd"]
preserve_env = ["LANG", "FOO*"]
caller_options = ["preserve_groups"]
timeout = "30s"
record = true
record_input = true
noexec = true
break_glass = true

[[rule]]
name = "deny-sh"
users = ["alice"]
run_as = ["ALL"]
action = "deny"
auth = "none"
commands = [{ cmd = "/bin/sh", digest = "blake3:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" }]

[[rule]]
name = "bob-all"
users = ["bob"]
commands = ["ALL"]
auth = "password"
preserve_env = true
"##;

    const FILE: &str = "/etc/belladonna/policy.toml";

    fn everything() -> PolicyFragment {
        use base64::Engine as _;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let key =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes());
        let text = EVERYTHING.replace("KEY", &format!("ed25519:{key}"));
        parse_policy(&text, Path::new(FILE))
            .unwrap_or_else(|e| panic!("the test policy parses: {e}"))
    }

    #[test]
    fn every_key_comes_back_as_it_was_parsed() {
        let f = everything();
        // The policy really sets what the codec must carry.
        assert!(f.defaults.is_some() && f.audit.is_some() && f.incident.table);
        assert_eq!(f.sandboxes.len(), 3);
        assert_eq!(f.approvers.len(), 1);
        assert_eq!(f.incident.decoys.len(), 1);
        let r = &f.rules[0];
        assert!(r.approval.is_some() && r.rate.is_some() && !r.caller.is_unset());
        assert!(r.chdir.is_some() && r.edit.is_some() && r.run_as_groups.is_some());
        let b = encode(&f);
        assert_eq!(decode(&b, Path::new(FILE)), Some(f));
    }

    #[test]
    fn any_damage_is_refused_never_misread() {
        let b = encode(&everything());
        // Every strict prefix and the piece with a byte more.
        for n in 0..b.len() {
            assert_eq!(
                decode(&b[..n], Path::new(FILE)),
                None,
                "prefix of {n} bytes"
            );
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(decode(&longer, Path::new(FILE)), None);
        // A byte changed anywhere: refused, or read as a different piece,
        // never a panic (the cache's checksum stands against the rest).
        let f = everything();
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0x81;
            assert_ne!(decode(&d, Path::new(FILE)).as_ref(), Some(&f), "byte {i}");
        }
    }

    #[test]
    fn a_forged_count_allocates_nothing_it_cannot_fill() {
        // A piece whose file name claims 4 GiB, a count of 33 million
        // items with 1 byte left: refused at once.
        let b = [1, 0xff, 0xff, 0xff, 0xff, 0x0f, b'/'];
        assert_eq!(decode(&b, Path::new(FILE)), None);
        let mut r = Rd {
            b: &[0xff, 0xff, 0xff, 0x0f, 0],
            pos: 0,
            file: Path::new(FILE),
        };
        assert_eq!(r.count(), None);
    }

    /// Found by the fuzz target `policy_piece`: a piece whose own file is
    /// spelled out as another (here the empty path) was read, and wrote
    /// back differently. A piece names its own file by reference only.
    #[test]
    fn a_piece_of_another_file_is_refused() {
        let mut b = vec![1, 0];
        b.extend_from_slice(&[0; 13]);
        b.extend_from_slice(&[1, 4, 0, 0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(decode(&b, Path::new(FILE)), None);
        // The same piece naming its file by reference reads, and writes
        // back to the same bytes.
        let mut own = vec![0];
        own.extend_from_slice(&b[2..]);
        let f = decode(&own, Path::new(FILE)).expect("the same piece, of its own file");
        assert_eq!(encode(&f), own);
    }

    #[test]
    fn one_value_has_one_encoding() {
        let read = |b: &[u8]| {
            let mut r = Rd {
                b,
                pos: 0,
                file: Path::new(FILE),
            };
            r.varint().filter(|_| r.pos == b.len())
        };
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut w = Wr {
                out: Vec::new(),
                file: Path::new(FILE),
            };
            w.varint(v);
            assert_eq!(read(&w.out), Some(v), "{v}");
        }
        // Overlong forms and overflow are refused.
        assert_eq!(read(&[0x80, 0x00]), None);
        assert_eq!(read(&[0xff, 0x80, 0x00]), None);
        assert_eq!(
            read(&[0xff; 9].iter().copied().chain([0x02]).collect::<Vec<_>>()),
            None
        );
        assert_eq!(read(&[0xff; 10]), None);
        // The piece's own file is never written out in full.
        let mut w = Wr {
            out: Vec::new(),
            file: Path::new(FILE),
        };
        PathBuf::from(FILE).put(&mut w);
        assert_eq!(w.out, [0]);
        let mut spelled = vec![1, FILE.len() as u8];
        spelled.extend_from_slice(FILE.as_bytes());
        let mut r = Rd {
            b: &spelled,
            pos: 0,
            file: Path::new(FILE),
        };
        assert_eq!(PathBuf::get(&mut r), None);
    }
}
