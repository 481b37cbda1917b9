//! Incident response and deception (DESIGN section 10,
//! docs/incident-response.md): frozen mode and its signed unfreeze
//! ([`freeze`]), decoy grants ([`decoy`]), and the `bdctl` commands that
//! drive them ([`cmd`]).
#![forbid(unsafe_code)]

pub mod alarm;
pub mod cmd;
pub mod counters;
pub mod decoy;
pub mod freeze;

/// A millionths value as a decimal (`3500000` -> `3.5`).
pub fn ppm_text(v: u64) -> String {
    let whole = v / 1_000_000;
    let frac = v % 1_000_000;
    if frac == 0 {
        whole.to_string()
    } else {
        let f = format!("{frac:06}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    }
}
