//! Fixed file locations. They are a compile-time prefix, never a runtime
//! flag: a caller must not be able to point bdexec at another policy.
//! Tests never change them: they run bdexec in a private mount namespace
//! with their own directories mounted on these paths.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// Directory holding the policy, drop-ins, the lock file and keys.
pub const CONF_DIR: &str = "/etc/belladonna";
/// The main policy file.
pub const POLICY_FILE: &str = "/etc/belladonna/policy.toml";
/// Name of the policy file inside [`CONF_DIR`].
pub const POLICY_NAME: &str = "policy.toml";
/// Name of the drop-in directory inside [`CONF_DIR`].
pub const DROPIN_NAME: &str = "policy.d";
/// Directory of the audit log.
pub const LOG_DIR: &str = "/var/log/belladonna";
/// Name of the audit log inside [`LOG_DIR`].
pub const AUDIT_NAME: &str = "audit.jsonl";
/// The audit log.
pub const AUDIT_FILE: &str = "/var/log/belladonna/audit.jsonl";
/// Per-boot state (tmpfs).
pub const RUN_DIR: &str = "/run/belladonna";
/// Persistent state.
pub const LIB_DIR: &str = "/var/lib/belladonna";

/// Where the static bdexec's twin is, below the parent of bdexec's
/// directory (src/exec/twin.rs): /usr/bin/bdexec ->
/// /usr/libexec/belladonna/bdexec-pam. Relative to the executable, so
/// that `make install`'s prefix and the tests' copies keep the pair.
pub const TWIN_DIR: &str = "libexec/belladonna";
/// The twin's file name.
pub const TWIN_NAME: &str = "bdexec-pam";

/// The twin beside the bdexec at `exe` (a canonical path, as
/// /proc/self/exe gives it).
pub fn twin_beside(exe: &Path) -> Option<PathBuf> {
    let prefix = exe.parent()?.parent()?;
    Some(prefix.join(TWIN_DIR).join(TWIN_NAME))
}

/// The pair (bdexec, twin) the executable at `exe` belongs to: `exe`
/// is the twin (its name and directory say so), or a bdexec whose twin
/// exists. `None` for a bdexec without a twin.
pub fn twin_pair(exe: &Path) -> Option<(PathBuf, PathBuf)> {
    let (bdexec, twin, exe_is_twin) = pair_candidate(exe)?;
    (exe_is_twin || twin.exists()).then_some((bdexec, twin))
}

/// The pair `exe` would belong to, without looking at the disk: (bdexec,
/// twin, whether `exe` is the twin). [`twin_pair`] also needs a twin
/// to exist when `exe` is not it.
pub fn pair_candidate(exe: &Path) -> Option<(PathBuf, PathBuf, bool)> {
    let dir = exe.parent()?;
    if exe.file_name()? == TWIN_NAME && dir.ends_with(TWIN_DIR) {
        let prefix = dir.parent()?.parent()?;
        return Some((prefix.join("bin/bdexec"), exe.to_path_buf(), true));
    }
    Some((exe.to_path_buf(), twin_beside(exe)?, false))
}

#[cfg(test)]
mod tests {
    use super::{twin_beside, twin_pair};
    use std::path::{Path, PathBuf};

    #[test]
    fn the_twin_is_in_libexec_beside_bin() {
        assert_eq!(
            twin_beside(Path::new("/usr/bin/bdexec")).as_deref(),
            Some(Path::new("/usr/libexec/belladonna/bdexec-pam"))
        );
        assert_eq!(
            twin_beside(Path::new("/usr/local/bin/bdexec")).as_deref(),
            Some(Path::new("/usr/local/libexec/belladonna/bdexec-pam"))
        );
        assert_eq!(twin_beside(Path::new("/bdexec")), None);
        // The twin names its static bdexec by the same rule backwards.
        assert_eq!(
            twin_pair(Path::new("/usr/libexec/belladonna/bdexec-pam")),
            Some((
                PathBuf::from("/usr/bin/bdexec"),
                PathBuf::from("/usr/libexec/belladonna/bdexec-pam")
            ))
        );
        assert_eq!(twin_pair(Path::new("/nonexistent/bin/bdexec")), None);
    }
}
