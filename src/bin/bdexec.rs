//! bdexec: run a command as another user, as the policy allows.
#![forbid(unsafe_code)]

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(belladonna::bdexec::main(args));
}
