//! bdexec's standard output and error belong to the caller: they may be
//! `/dev/full`, a closed pipe, a file on a full disk or a terminal in any
//! state. Writing to them never panics and never decides anything: an
//! error is ignored where the text was only a message (the refusal still
//! has its record and exit code) and reported as `false` where the text
//! was the answer (`-l`, `-h`, `-V`; bdexec then exits with
//! [`crate::bdexec::exit::OUTPUT`]).
//!
//! [`install_panic_hook`] replaces the standard panic hook, which reads
//! `RUST_BACKTRACE` (the caller's environment) and prints a multi-line
//! message: a panic, which is a bug, prints one fixed line and exits with
//! [`PANIC_EXIT`] (bdexec(8)); nothing has been run then.
#![forbid(unsafe_code)]

use std::io::Write;

/// Exit status after a panic (sysexits' `EX_SOFTWARE`), in bdexec(8).
pub const PANIC_EXIT: i32 = 70;

/// The one line a panic prints.
pub const PANIC_LINE: &[u8] = b"bdexec: internal error (a bug); nothing was run\n";

/// Write `line` to stderr; errors are ignored.
pub fn err_line(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(line.as_bytes());
    let _ = e.flush();
}

/// Write `text` to stdout and flush; `false` when it could not be
/// written completely.
pub fn out(text: &str) -> bool {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .is_ok()
}

/// One line, no environment, a documented exit status: see the module
/// docs. Installed first thing in `bdexec::main`.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|_| {
        // Straight to fd 2: no lock (the panic may have happened while
        // stderr's lock was held), no formatting, errors ignored.
        let _ = nix::unistd::write(std::io::stderr(), PANIC_LINE);
        std::process::exit(PANIC_EXIT)
    }));
}
