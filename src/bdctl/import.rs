//! `bdctl import sudoers`: a sudoers file as a policy, never widening
//! (docs/sudoers-import.md, bdctl(8)).
#![forbid(unsafe_code)]

use super::exit;
use std::path::Path;

/// `bdctl import sudoers`: 0 imported (warnings or not), 1 refused.
pub fn sudoers(file: &Path, output: Option<&Path>, host: Option<String>, report: bool) -> i32 {
    use crate::policy::import;
    let hostname = match host {
        Some(h) => h,
        None => nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let imported = match import::import_file(file, &import::Options { hostname }) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("bdctl: import refused: {e}");
            return exit::FAILED;
        }
    };
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "bdctl: imported {} rules, {} warnings",
        imported.rules,
        imported.warnings.len()
    );
    let written = match output {
        Some(out) => {
            std::fs::write(out, &imported.toml).map_err(|e| format!("{}: {e}", out.display()))
        }
        None => Ok(()),
    };
    let stdout_text = match (report, output) {
        (true, _) => Some(imported.report_table()),
        (false, None) => Some(imported.toml.clone()),
        (false, Some(_)) => None,
    };
    let written = match (written, stdout_text) {
        (Err(e), _) => Err(e),
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(text)) => {
            use std::io::Write;
            let mut o = std::io::stdout().lock();
            match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(format!("stdout: {e}")),
            }
        }
    };
    match written {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("bdctl: {e}");
            exit::FAILED
        }
    }
}
