//! What bdexec loads before its first line of code runs: every shared
//! object it needs is one more open, several mmaps, relocations and
//! page faults on every call (docs/performance.md "Where a call's time
//! goes"). bdexec needs the C library and libgcc_s (the unwinder std
//! links) and nothing else: not libm (the incident score's `exp` comes
//! from the pure-Rust `libm` crate), not libpam (opened only when a call
//! reaches PAM), not libseccomp or libcap.

use std::process::Command;

/// The DT_NEEDED entries of an ELF file, read with binutils' readelf
/// (installed by `make deps` with gcc).
fn needed(path: &str) -> Vec<String> {
    let out = Command::new("readelf")
        .args(["-d", "-W", path])
        .output()
        .unwrap_or_else(|e| panic!("readelf (binutils, `make deps`) could not run: {e}"));
    assert!(
        out.status.success(),
        "readelf -d {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| {
            let start = l.find('[')? + 1;
            let end = l.rfind(']')?;
            Some(l.get(start..end)?.to_string())
        })
        .collect()
}

#[test]
fn bdexec_links_only_libc_and_the_unwinder() {
    // The dynamic loader is the program's interpreter, mapped by the
    // kernel for every dynamic binary: naming it (debug builds do) loads
    // nothing more.
    let mut libs: Vec<String> = needed(env!("CARGO_BIN_EXE_bdexec"))
        .into_iter()
        .filter(|l| !l.starts_with("ld-linux"))
        .collect();
    libs.sort();
    assert_eq!(
        libs,
        ["libc.so.6", "libgcc_s.so.1"],
        "bdexec's shared objects: each one more costs every call (docs/performance.md)"
    );
}

/// The check above can fail: a binary that links libm is seen (perl,
/// from Debian's essential perl-base, links libm.so.6).
#[test]
fn the_check_sees_libm() {
    let libs = needed("/usr/bin/perl");
    assert!(
        libs.iter().any(|l| l == "libm.so.6") && libs.iter().any(|l| l == "libc.so.6"),
        "readelf -d /usr/bin/perl: {libs:?}"
    );
}
