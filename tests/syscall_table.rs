//! The hand-kept x86_64 system call table (`src/policy/syscalls.rs`)
//! checked against two independent sources, so that a stale or wrong
//! number fails CI instead of leaving a hole in a seccomp filter:
//!
//! 1. libseccomp's own table, through the installed shared library
//!    (`libseccomp.so.2`, Debian package `libseccomp2`), loaded with
//!    `dlopen` in this test only: `seccomp_syscall_resolve_name_arch` for
//!    every name of ours, `seccomp_syscall_resolve_num_arch` for every
//!    number up to 1023 (each call it knows must be in our table, same
//!    number);
//! 2. the kernel UAPI header `/usr/include/x86_64-linux-gnu/asm/unistd_64.h`
//!    (Debian package `linux-libc-dev`), parsed: each `__NR_name` must be
//!    in our table with the same number, and ours must match it.
//!
//! Coverage on Debian 12: libseccomp 2.5.4-1+deb12u1 knows every call of
//! ours up to `futex_requeue` (456), the Linux 6.1 headers stop at
//! `set_mempolicy_home_node` (450). The calls newer than both (`uretprobe`
//! 335 and `statmount` 457 through `file_setattr` 469, entered by hand
//! from the kernel's `syscall_64.tbl`) cannot be checked here: they must
//! be listed in [`UNCHECKABLE`], so a new hand entry is a conscious
//! decision, and a newer libseccomp or header set checks them too (the
//! test prints which source covered how many).

use belladonna::policy::syscalls::{GROUPS, SYSCALLS, lookup};
use std::collections::BTreeMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};

/// `AUDIT_ARCH_X86_64` (libseccomp's `SCMP_ARCH_X86_64`).
const SCMP_ARCH_X86_64: u32 = 0xC000_003E;

/// Entered by hand from `arch/x86/entry/syscalls/syscall_64.tbl`: newer
/// than libseccomp 2.5.4-1+deb12u1 and the Linux 6.1 headers of Debian 12.
const UNCHECKABLE: &[&str] = &[
    "uretprobe",
    "statmount",
    "listmount",
    "lsm_get_self_attr",
    "lsm_set_self_attr",
    "lsm_list_modules",
    "mseal",
    "setxattrat",
    "getxattrat",
    "listxattrat",
    "removexattrat",
    "open_tree_attr",
    "file_getattr",
    "file_setattr",
];

const HEADER: &str = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";

type ResolveName = unsafe extern "C" fn(u32, *const c_char) -> c_int;
type ResolveNum = unsafe extern "C" fn(u32, c_int) -> *mut c_char;
type Version = unsafe extern "C" fn() -> *const [u32; 3];

/// The installed libseccomp, opened with `dlopen` (never closed: the test
/// process ends soon).
struct Libseccomp {
    resolve_name: ResolveName,
    resolve_num: ResolveNum,
    version: [u32; 3],
}

fn sym(handle: *mut c_void, name: &CStr) -> *mut c_void {
    // SAFETY: `handle` is a live handle from dlopen and `name` a C string.
    let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
    assert!(!p.is_null(), "libseccomp lacks {name:?}");
    p
}

impl Libseccomp {
    fn open() -> Libseccomp {
        let lib = c"libseccomp.so.2";
        // SAFETY: dlopen with a C string; libseccomp's initialisers have no
        // preconditions.
        let handle = unsafe { libc::dlopen(lib.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(
            !handle.is_null(),
            "libseccomp.so.2 not found: install the Debian package libseccomp2 (make deps)"
        );
        // SAFETY: the symbols have these C signatures in every libseccomp
        // 2.x (seccomp.h): resolve_name_arch(uint32_t, const char *) ->
        // int, resolve_num_arch(uint32_t, int) -> char * (malloc'd or
        // NULL), seccomp_version(void) -> const struct { unsigned major,
        // minor, micro } *.
        let (resolve_name, resolve_num, version) = unsafe {
            (
                std::mem::transmute::<*mut c_void, ResolveName>(sym(
                    handle,
                    c"seccomp_syscall_resolve_name_arch",
                )),
                std::mem::transmute::<*mut c_void, ResolveNum>(sym(
                    handle,
                    c"seccomp_syscall_resolve_num_arch",
                )),
                std::mem::transmute::<*mut c_void, Version>(sym(handle, c"seccomp_version")),
            )
        };
        // SAFETY: seccomp_version returns a pointer to a static struct.
        let version = unsafe { *version() };
        Libseccomp {
            resolve_name,
            resolve_num,
            version,
        }
    }

    /// The x86_64 number of `name`, or None when libseccomp does not know
    /// it (or knows it only on other architectures: negative numbers).
    fn number(&self, name: &str) -> Option<u32> {
        let c = CString::new(name).expect("no NUL in a syscall name");
        // SAFETY: a valid C string; the function only reads it.
        let r = unsafe { (self.resolve_name)(SCMP_ARCH_X86_64, c.as_ptr()) };
        u32::try_from(r).ok()
    }

    /// The x86_64 name of number `nr`, if libseccomp has one.
    fn name(&self, nr: u32) -> Option<String> {
        let nr = c_int::try_from(nr).ok()?;
        // SAFETY: returns NULL or a malloc'd C string that we own.
        let p = unsafe { (self.resolve_num)(SCMP_ARCH_X86_64, nr) };
        if p.is_null() {
            return None;
        }
        // SAFETY: p is a NUL-terminated string from libseccomp.
        let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        // SAFETY: p came from malloc (libseccomp's strdup) and is freed once.
        unsafe { libc::free(p.cast()) };
        Some(s)
    }
}

/// `__NR_name number` lines of the UAPI header.
fn header_table() -> BTreeMap<String, u32> {
    let text = std::fs::read_to_string(HEADER).unwrap_or_else(|e| {
        panic!("{HEADER}: {e}: install the Debian package linux-libc-dev (make deps)")
    });
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if w.next() != Some("#define") {
            continue;
        }
        let (Some(name), Some(nr)) = (w.next(), w.next()) else {
            continue;
        };
        if let (Some(name), Ok(nr)) = (name.strip_prefix("__NR_"), nr.parse::<u32>()) {
            out.insert(name.to_string(), nr);
        }
    }
    assert!(out.len() > 300, "{HEADER}: only {} entries", out.len());
    out
}

#[test]
fn syscall_numbers_match_libseccomp_and_the_kernel_headers() {
    let lib = Libseccomp::open();
    let header = header_table();
    let (mut by_lib, mut by_header, mut unchecked) = (0, 0, Vec::new());
    let mut wrong = Vec::new();
    for (name, nr) in SYSCALLS {
        let from_lib = lib.number(name);
        let from_header = header.get(*name).copied();
        for (src, v) in [("libseccomp", from_lib), ("unistd_64.h", from_header)] {
            if let Some(v) = v
                && v != *nr
            {
                wrong.push(format!("{name}: ours {nr}, {src} {v}"));
            }
        }
        match (from_lib, from_header) {
            (Some(_), _) => by_lib += 1,
            (None, Some(_)) => by_header += 1,
            (None, None) => unchecked.push(*name),
        }
    }
    // The other direction: every call a source knows is in our table.
    for nr in 0..1024 {
        if let Some(name) = lib.name(nr)
            && lookup(&name) != Some(nr)
        {
            wrong.push(format!(
                "libseccomp: {name} = {nr}, ours {:?}",
                lookup(&name)
            ));
        }
    }
    for (name, nr) in &header {
        if lookup(name) != Some(*nr) {
            wrong.push(format!(
                "unistd_64.h: {name} = {nr}, ours {:?}",
                lookup(name)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "syscall table disagrees:\n{}",
        wrong.join("\n")
    );
    let [ma, mi, mc] = lib.version;
    eprintln!(
        "{} calls: {by_lib} checked against libseccomp {ma}.{mi}.{mc}, {by_header} more against {HEADER} only, {} unchecked: {unchecked:?}",
        SYSCALLS.len(),
        unchecked.len()
    );
    let stray: Vec<_> = unchecked
        .iter()
        .filter(|n| !UNCHECKABLE.contains(n))
        .collect();
    assert!(
        stray.is_empty(),
        "neither libseccomp nor the headers know {stray:?}: check them against the kernel's syscall_64.tbl and list them in UNCHECKABLE"
    );
}

/// Each `.It Cm @group` of belladonna-policy(5)'s "System call groups"
/// with the names of its `Members:` text (which may wrap over lines).
fn man_groups() -> BTreeMap<String, Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/belladonna-policy.5");
    let text = std::fs::read_to_string(path).expect("man page");
    let start = text.find(".Ss System call groups").expect("groups section");
    let end = start + text[start..].find(".Sh ").expect("next section");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut group, mut members): (Option<String>, Option<String>) = (None, None);
    for line in text[start..end].lines() {
        if let Some(g) = line.strip_prefix(".It Cm @") {
            group = Some(format!("@{g}"));
            continue;
        }
        let cont = match (&mut members, line.strip_prefix("Members: ")) {
            (None, Some(first)) => {
                members = Some(first.to_string());
                true
            }
            (Some(m), None) if !line.starts_with('.') => {
                m.push(' ');
                m.push_str(line);
                true
            }
            _ => false,
        };
        if cont && members.as_deref().is_some_and(|m| m.ends_with('.')) {
            let m = members.take().unwrap_or_default();
            let g = group
                .clone()
                .unwrap_or_else(|| panic!("Members: outside a group: {m}"));
            let names = m
                .trim_end_matches('.')
                .split(", ")
                .map(str::to_string)
                .collect();
            assert!(out.insert(g.clone(), names).is_none(), "{g} listed twice");
        }
    }
    out
}

#[test]
fn man_page_lists_each_groups_members() {
    let man = man_groups();
    let code: BTreeMap<String, Vec<String>> = GROUPS
        .iter()
        .map(|(g, m)| (g.to_string(), m.iter().map(|s| s.to_string()).collect()))
        .collect();
    for (g, want) in &code {
        assert_eq!(
            man.get(g),
            Some(want),
            "belladonna-policy(5) lists {g} as {:?}; the code has:\nMembers: {}.",
            man.get(g),
            want.join(", ")
        );
    }
    let extra: Vec<_> = man.keys().filter(|g| !code.contains_key(*g)).collect();
    assert!(extra.is_empty(), "groups only in the man page: {extra:?}");
}
