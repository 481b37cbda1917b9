//! bdctl: the Belladonna administrator's tool.
#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let args = belladonna::bdctl::args::BdctlArgs::parse();
    std::process::exit(belladonna::bdctl::run(args));
}
