//! `bdctl key gen|rotate|show|verify` (see `docs/keys.md`, bdctl(8)).
#![forbid(unsafe_code)]

use super::args::KeyCmd;
use super::exit;
use crate::audit::key::gen_audit_key;
use crate::audit::key_rotate::rotate_audit_key;
use crate::auth::keys;
use crate::keystore::{KeyPaths, KeyType, kek};

/// Run one `bdctl key` command; returns the exit code.
pub fn run(cmd: KeyCmd) -> i32 {
    run_with(
        cmd,
        &KeyPaths::system(),
        &crate::audit::AppendOptions::system(),
    )
}

/// [`run`] with explicit locations.
pub fn run_with(cmd: KeyCmd, paths: &KeyPaths, log: &crate::audit::AppendOptions<'_>) -> i32 {
    let r = match cmd {
        KeyCmd::Gen {
            audit: true,
            export_verify_key,
            wrap,
            ..
        } => gen_audit_key(paths, export_verify_key.as_deref(), wrap).map(|i| {
            println!("{i}");
            match export_verify_key {
                Some(p) => println!(
                    "verification key K_0 written to {}: move it OFF this host; \
                     `bdctl audit verify --key` needs it",
                    p.display()
                ),
                None => println!(
                    "note: no verification key exported (--export-verify-key): the MACs can \
                     only be checked structurally"
                ),
            }
        }),
        KeyCmd::Gen {
            approver: Some(name),
            out: Some(out),
            ..
        } => keys::gen_approver(paths, &name, &out).map(|i| {
            println!("{i}");
            if let Some(p) = &i.public {
                println!("{p}");
            }
        }),
        #[cfg(feature = "belladonna_tpm_real")]
        KeyCmd::Gen {
            kek: true,
            tpm: true,
            ..
        } => crate::keystore::tpm::gen_tpm_kek(paths).map(|i| {
            println!("{i}");
            println!(
                "sealed to the TPM ({}; owner hierarchy, ECC P-256 storage primary)",
                crate::keystore::tpm::tcti()
            );
        }),
        KeyCmd::Gen { kek: true, .. } => kek::gen_kek(paths).map(|i| println!("{i}")),
        KeyCmd::Rotate { audit: true, .. } => rotate_audit_key(paths, log).map(|r| {
            match r.seal_seq {
                Some(s) => println!(
                    "sealed epoch {} ({} records) at seq {s}",
                    r.old_epoch, r.sealed_records
                ),
                None => println!(
                    "epoch {} was already sealed ({} records): finishing the rotation",
                    r.old_epoch, r.sealed_records
                ),
            }
            println!("{}", r.new);
        }),
        KeyCmd::Rotate {
            approver: Some(name),
            out: Some(out),
            ..
        } => keys::rotate_approver(paths, &name, &out).map(|i| {
            println!("{i}");
            if let Some(p) = &i.public {
                println!("{p}");
            }
        }),
        KeyCmd::Show { file } => keys::show(paths, file.as_deref()).map(|i| println!("{i}")),
        KeyCmd::Verify { file, expect } => {
            let want = match expect.as_deref().map(KeyType::from_name) {
                None => None,
                Some(Some(t)) => Some(t),
                Some(None) => {
                    eprintln!("bdctl: key verify: unknown --type (see bdctl key verify --help)");
                    return exit::USAGE;
                }
            };
            keys::verify(paths, &file, want).map(|i| println!("ok: {i}"))
        }
        KeyCmd::Gen { .. } | KeyCmd::Rotate { .. } => {
            eprintln!("bdctl: key: say which key (--audit, --approver NAME --out DIR, --kek)");
            return exit::USAGE;
        }
    };
    match r {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("bdctl: {e}");
            exit::FAILED
        }
    }
}
