//! belladonna-gen: a build-time tool, never installed. Generates the
//! shell completions of bdexec and bdctl for bash, zsh and fish from the
//! clap definitions in src/bdexec/cli.rs, so the packages' completions can never
//! disagree with the binaries' options.
//!
//! Built only with the `gen-tools` feature (clap_complete is an optional
//! dependency of that feature): bdexec and bdctl link none of it.
//!
//! Usage: `belladonna-gen completions OUTDIR` writes
//! OUTDIR/{bash,zsh,fish}/... in each shell's packaging layout.
#![forbid(unsafe_code)]

use belladonna::bdctl::args::BdctlArgs;
use belladonna::bdexec::cli::BdexecArgs;
use clap::CommandFactory;
use clap_complete::{Shell, generate_to};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn completions(out: &Path) -> std::io::Result<()> {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let dir = out.join(shell.to_string());
        std::fs::create_dir_all(&dir)?;
        for (mut cmd, name) in [
            (BdexecArgs::command(), "bdexec"),
            (BdctlArgs::command(), "bdctl"),
        ] {
            let path = generate_to(shell, &mut cmd, name, &dir)?;
            println!("belladonna-gen: {}", path.display());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, out] if cmd == "completions" => match completions(&PathBuf::from(out)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("belladonna-gen: {out}: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: belladonna-gen completions OUTDIR");
            ExitCode::from(2)
        }
    }
}
