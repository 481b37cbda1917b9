//! `bdctl token sign | verify` (docs/approval-tokens.md, bdctl(8)); the
//! token format and its verification are [`crate::auth::tokens`].
#![forbid(unsafe_code)]

use super::args::TokenCmd;
use super::exit;
use crate::auth::tokens::{
    ArgvClaim, Claims, NBF_LEEWAY_SECS, Purpose, argv_claim, host_identity, name_ok, new_nonce,
    parse, read_token_file, sign, unfreeze_claims, verify_signature,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

fn wall_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Run one `bdctl token` subcommand; returns the exit code.
pub fn run(cmd: TokenCmd) -> i32 {
    match cmd {
        TokenCmd::Sign {
            key,
            approver,
            user,
            run_as,
            ttl,
            purpose,
            host,
            machine_id,
            ns,
            argv,
        } => match sign_cmd(&SignArgs {
            key: &key,
            approver: approver.as_deref(),
            user: user.as_deref(),
            run_as: &run_as,
            ttl: &ttl,
            purpose: &purpose,
            host: host.zip(machine_id),
            ns: &ns,
            argv: &argv,
        }) {
            Ok(t) => {
                println!("{t}");
                exit::OK
            }
            Err(e) => {
                eprintln!("bdctl: token sign: {e}");
                exit::USAGE
            }
        },
        TokenCmd::Verify { policy, token } => verify_cmd(policy.as_deref(), &token),
    }
}

struct SignArgs<'a> {
    key: &'a Path,
    approver: Option<&'a str>,
    user: Option<&'a str>,
    run_as: &'a str,
    ttl: &'a str,
    purpose: &'a str,
    host: Option<(String, String)>,
    ns: &'a str,
    argv: &'a [OsString],
}

fn sign_cmd(a: &SignArgs<'_>) -> Result<String, String> {
    let k = crate::auth::keys::read_approver_key(a.key).map_err(|e| e.to_string())?;
    let iss = match (a.approver, &k.name) {
        (Some(n), Some(kn)) if n != kn => {
            return Err(format!(
                "--approver {n:?} differs from the key file's name {kn:?}"
            ));
        }
        (Some(n), _) => n.to_string(),
        (None, Some(kn)) => kn.clone(),
        (None, None) => return Err("the key file names no approver: give --approver".into()),
    };
    if !crate::policy::names::is_approver_name(&iss) {
        return Err(format!("approver name {iss:?} is not valid"));
    }
    crate::auth::keys::check_approver_epoch(
        &crate::keystore::KeyPaths::system(),
        &iss,
        k.epoch,
        a.key,
    )
    .map_err(|e| e.to_string())?;
    let ttl = crate::policy::parse::parse_duration(a.ttl)?;
    if ttl == 0 {
        return Err("--ttl must be more than 0".into());
    }
    let purpose: Purpose = a.purpose.parse()?;
    let unfreeze_argv: Vec<OsString>;
    let (user, run_as, ns, argv) = match purpose {
        Purpose::Exec => {
            let Some(user) = a.user else {
                return Err("--user is required for --purpose exec".into());
            };
            if a.argv.is_empty() {
                return Err("--argv is required for --purpose exec".into());
            }
            (user, a.run_as, a.ns, a.argv)
        }
        Purpose::Unfreeze => {
            if a.user.is_some() || !a.argv.is_empty() || a.run_as != "root" || a.ns != "default" {
                return Err(
                    "an unfreeze token takes no --user, --run-as, --ns or --argv (it is bound to the host only)"
                        .into(),
                );
            }
            unfreeze_argv = unfreeze_claims::ARGV.iter().map(OsString::from).collect();
            (
                unfreeze_claims::USER,
                unfreeze_claims::USER,
                unfreeze_claims::NS,
                unfreeze_argv.as_slice(),
            )
        }
    };
    let a = SignArgs {
        user: Some(user),
        run_as,
        ns,
        argv,
        host: a.host.clone(),
        ..*a
    };
    let a = &a;
    let user = user.to_string();
    if !crate::policy::names::is_namespace(a.ns) {
        return Err(format!("--ns {:?} must match [A-Za-z0-9_-]{{1,64}}", a.ns));
    }
    for (what, v) in [("--user", user.as_str()), ("--run-as", a.run_as)] {
        if !name_ok(v) {
            return Err(format!("{what} {v:?} is not a valid name"));
        }
    }
    match a.argv.first() {
        Some(a0) if a0.as_bytes().starts_with(b"/") => {}
        _ => return Err("--argv must start with the command's absolute path".into()),
    }
    if a.argv.iter().any(|x| x.as_bytes().contains(&0)) {
        return Err("--argv contains a NUL byte".into());
    }
    let (host, machine_id) = match &a.host {
        Some(h) => h.clone(),
        None => host_identity()?,
    };
    let nbf = wall_now();
    let claims = Claims {
        iss,
        epoch: k.epoch,
        sub: user,
        argv: argv_claim(a.argv),
        run_as: a.run_as.to_string(),
        host,
        machine_id,
        nbf,
        exp: nbf.saturating_add(ttl),
        nonce: new_nonce()?,
        purpose,
        ns: a.ns.to_string(),
    };
    let token = sign(&claims, &k.signing);
    // Refuse to hand out a token that bdexec would refuse as malformed
    // (a bad --host or --machine-id, an over-long name).
    parse(&token).map_err(|e| e.to_string())?;
    Ok(token)
}

fn verify_cmd(policy: Option<&Path>, token: &Path) -> i32 {
    let text = match read_token_file(token) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bdctl: {}: {e}", token.display());
            return exit::FAILED;
        }
    };
    let u = match parse(&text) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("bdctl: {}: {e}", token.display());
            return exit::FAILED;
        }
    };
    let c = u.claims();
    let q = |s: &str| serde_json::Value::from(s).to_string();
    println!("approver:   {}", q(&c.iss));
    println!("epoch:      {}", c.epoch);
    println!("user:       {}", q(&c.sub));
    println!("run_as:     {}", q(&c.run_as));
    match &c.argv {
        ArgvClaim::Argv(v) => println!("argv:       {}", serde_json::Value::from(v.clone())),
        ArgvClaim::Blake3(d) => println!("argv_b3:    {}", crate::policy::hash::hex(d)),
    }
    println!("host:       {}", q(&c.host));
    println!("machine_id: {}", c.machine_id);
    println!("purpose:    {}", c.purpose.as_str());
    println!("ns:         {}", c.ns);
    println!("nonce:      {}", URL_SAFE_NO_PAD.encode(c.nonce));
    println!("nbf:        {}", c.nbf);
    println!("exp:        {}", c.exp);
    let now = wall_now();
    let time_ok = if now >= c.exp {
        println!("time:       expired");
        false
    } else if now.saturating_add(NBF_LEEWAY_SECS) < c.nbf {
        println!("time:       not valid yet");
        false
    } else {
        println!("time:       valid for {} more seconds", c.exp - now);
        true
    };
    let loaded = super::load_policy(policy);
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            println!("signature:  not checked");
            eprintln!("bdctl: {e}");
            return exit::FAILED;
        }
    };
    match verify_signature(&u, &loaded.policy.approvers) {
        Ok(a) => {
            println!(
                "signature:  valid (approver {}, epoch {}, policy {})",
                a.name,
                a.epoch,
                crate::policy::hash::hex(&loaded.hash)
            );
            if time_ok { exit::OK } else { exit::FAILED }
        }
        Err(e) => {
            println!("signature:  INVALID: {e}");
            exit::FAILED
        }
    }
}
