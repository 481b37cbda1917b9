//! Signed approval tokens (DESIGN section 9, docs/approval-tokens.md).
//!
//! A token is a JWS in compact serialization (RFC 7515) signed with
//! Ed25519 (`alg = "EdDSA"`, RFC 8037):
//!
//! ```text
//! BASE64URL(header) "." BASE64URL(claims) "." BASE64URL(signature)
//! header = {"alg":"EdDSA","typ":"belladonna-approval+jwt","kid":"<approver>"}
//! claims = {"iss":..,"epoch":..,"sub":..,"argv":[..] | "argv_b3":"<hex>",
//!           "run_as":..,"host":..,"machine_id":..,"nbf":..,"exp":..,
//!           "nonce":"<base64url 16 bytes>","purpose":"exec"|"unfreeze","ns":..}
//! ```
//!
//! [`parse`] is strict and total (never panics, bounded work): exactly
//! three segments, unpadded canonical base64url, at most
//! [`MAX_TOKEN_BYTES`], the header's three fields exactly, no unknown or
//! duplicate claims, every claim type- and range-checked. [`verify`]
//! checks one token against the policy's approver keys and the request
//! ("verify chain", docs/approval-tokens.md); [`verify_set`] enforces a
//! rule's M-of-N distinct approvers. Replay (single use of a nonce) is
//! the caller's: each [`Verified`] carries the `(ns, nonce, exp)` to
//! record in the nonce set.
#![forbid(unsafe_code)]

use crate::policy::model::{Approver, Rule};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fmt;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// Largest accepted token (and token file), in bytes.
pub const MAX_TOKEN_BYTES: usize = 8192;
/// Longest accepted validity window `exp - nbf`: one day.
pub const MAX_LIFETIME_SECS: u64 = 86_400;
/// Tolerance for an approver's clock running ahead of this host's: a
/// token is accepted from `nbf - NBF_LEEWAY_SECS`. Expiry has no leeway.
pub const NBF_LEEWAY_SECS: u64 = 60;
/// The JWS `typ` of approval tokens.
pub const TYP: &str = "belladonna-approval+jwt";
/// The JWS `alg` (RFC 8037).
pub const ALG: &str = "EdDSA";
/// Most tokens [`verify_set`] looks at for one request.
pub const MAX_TOKENS: usize = 32;
/// Longest accepted `sub`, `run_as` and `host` claim, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// What a token authorises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Run one command (`bdexec --token`).
    Exec,
    /// Lift frozen mode (`bdctl unfreeze`).
    Unfreeze,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Exec => "exec",
            Purpose::Unfreeze => "unfreeze",
        }
    }
}

impl std::str::FromStr for Purpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "exec" => Ok(Purpose::Exec),
            "unfreeze" => Ok(Purpose::Unfreeze),
            _ => Err(format!("purpose {s:?} must be \"exec\" or \"unfreeze\"")),
        }
    }
}

/// The command a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgvClaim {
    /// `argv`: the exact argv, argv\[0\] the resolved absolute path.
    Argv(Vec<String>),
    /// `argv_b3`: [`argv_digest`] of the argv (for argv that is not UTF-8).
    Blake3([u8; 32]),
}

/// The claims of a token, decoded and checked for form (not yet trusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The approver (`[approvers.NAME]`); equal to the header's `kid`.
    pub iss: String,
    /// The epoch of the approver key that signed.
    pub epoch: u64,
    /// The user who may run the command (a name, or `#uid`).
    pub sub: String,
    pub argv: ArgvClaim,
    /// The target user (a name, or `#uid`).
    pub run_as: String,
    /// The host name (`gethostname`).
    pub host: String,
    /// `/etc/machine-id` (32 lower-case hex digits).
    pub machine_id: String,
    /// Not before (unix seconds).
    pub nbf: u64,
    /// Expiry (unix seconds): valid while `now < exp`.
    pub exp: u64,
    /// 128 random bits; the replay guard's key (with `ns`).
    pub nonce: [u8; 16],
    pub purpose: Purpose,
    /// Nonce namespace (the rule's `nonce_namespace`).
    pub ns: String,
}

/// A token that [`parse`] accepted: well-formed, signature not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    kid: String,
    claims: Claims,
    /// `BASE64URL(header) "." BASE64URL(claims)`: what was signed.
    signing_input: Vec<u8>,
    signature: [u8; 64],
}

impl Unverified {
    /// The header's `kid` (the approver's name).
    pub fn kid(&self) -> &str {
        &self.kid
    }
    /// The decoded claims (NOT authenticated: see [`verify`]).
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
}

/// A token that [`verify`] accepted for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub claims: Claims,
}

impl Verified {
    /// The approver who signed.
    pub fn approver(&self) -> &str {
        &self.claims.iss
    }
    /// The replay-guard key: (namespace, nonce, expiry).
    pub fn replay_key(&self) -> (&str, &[u8; 16], u64) {
        (&self.claims.ns, &self.claims.nonce, self.claims.exp)
    }
}

/// What the request is, for [`verify`]: every claim must match.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The calling user as the token names it (`sub`).
    pub user: &'a str,
    /// The exact argv to run, argv\[0\] the resolved absolute path.
    pub argv: &'a [OsString],
    /// The target user as the token names it (`run_as`).
    pub run_as: &'a str,
    pub host: &'a str,
    pub machine_id: &'a str,
    pub purpose: Purpose,
    /// The nonce namespace ([`verify_set`] uses the rule's instead).
    pub ns: &'a str,
    /// Effective now (unix seconds): `max(wall, anchor-derived)`.
    pub now: u64,
}

/// Why a token (file) was refused. `Display` is one line and names no
/// policy detail (no approver names, no allowed values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Token or token file larger than [`MAX_TOKEN_BYTES`].
    TooLarge,
    /// Not a well-formed token: the static text says which part.
    Malformed(&'static str),
    Expired,
    NotYetValid,
    WrongHost,
    WrongArgv,
    WrongUser,
    WrongRunAs,
    WrongPurpose,
    WrongNamespace,
    /// The signature does not verify with the approver's key.
    BadSignature,
    /// No approver of that name in the policy (or a key epoch newer than
    /// the policy's).
    UnknownKey,
    /// Signed with an older epoch of the approver's key.
    OlderEpoch,
    /// Two tokens from one approver.
    DuplicateApprover,
    /// The approver exists but may not approve this rule.
    ApproverNotAllowed,
    /// Fewer valid tokens from distinct approvers than the rule needs.
    NotEnoughApprovals {
        have: usize,
        need: usize,
    },
    /// More than [`MAX_TOKENS`] tokens.
    TooManyTokens,
    /// Token file is a symbolic link.
    FileSymlink,
    /// Token file is not a regular file (FIFO, device, directory, socket).
    FileNotRegular,
    /// Token file could not be opened or read (errno text).
    FileIo(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TokenError::*;
        match self {
            TooLarge => write!(
                f,
                "approval token is too large (more than {MAX_TOKEN_BYTES} bytes)"
            ),
            Malformed(what) => write!(f, "approval token is malformed: {what}"),
            Expired => f.write_str("approval token has expired"),
            NotYetValid => f.write_str("approval token is not valid yet"),
            WrongHost => f.write_str("approval token is for another host"),
            WrongArgv => f.write_str("approval token is for another command"),
            WrongUser => f.write_str("approval token is for another user"),
            WrongRunAs => f.write_str("approval token is for another target user"),
            WrongPurpose => f.write_str("approval token is for another purpose"),
            WrongNamespace => f.write_str("approval token is for another nonce namespace"),
            BadSignature => f.write_str("approval token signature is invalid"),
            UnknownKey => f.write_str("approval token is signed by an unknown key"),
            OlderEpoch => f.write_str("approval token is signed with a retired key epoch"),
            DuplicateApprover => f.write_str(
                "two approval tokens from the same approver (approvers must be distinct)",
            ),
            ApproverNotAllowed => {
                f.write_str("approval token is from an approver who may not approve this")
            }
            NotEnoughApprovals { have, need } => {
                write!(f, "not enough approvals: {have} valid of {need} needed")
            }
            TooManyTokens => write!(f, "too many approval tokens (at most {MAX_TOKENS})"),
            FileSymlink => f.write_str("approval token file is a symbolic link"),
            FileNotRegular => f.write_str("approval token file is not a regular file"),
            FileIo(e) => {
                f.write_str("approval token file cannot be read: ")?;
                crate::policy::one_line(e, f)
            }
        }
    }
}

impl std::error::Error for TokenError {}

impl TokenError {
    /// A short stable identifier for audit records and metrics.
    pub fn code(&self) -> &'static str {
        use TokenError::*;
        match self {
            TooLarge => "too_large",
            Malformed(_) => "malformed",
            Expired => "expired",
            NotYetValid => "not_yet_valid",
            WrongHost => "wrong_host",
            WrongArgv => "wrong_argv",
            WrongUser => "wrong_user",
            WrongRunAs => "wrong_run_as",
            WrongPurpose => "wrong_purpose",
            WrongNamespace => "wrong_namespace",
            BadSignature => "bad_signature",
            UnknownKey => "unknown_key",
            OlderEpoch => "older_epoch",
            DuplicateApprover => "duplicate_approver",
            ApproverNotAllowed => "approver_not_allowed",
            NotEnoughApprovals { .. } => "not_enough_approvals",
            TooManyTokens => "too_many_tokens",
            FileSymlink => "file_symlink",
            FileNotRegular => "file_not_regular",
            FileIo(_) => "file_io",
        }
    }
}

// ---------------------------------------------------------------- wire form

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireHeader {
    alg: String,
    typ: String,
    kid: String,
}

/// Field order here is the order `sign` writes.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireClaims {
    iss: String,
    epoch: u64,
    sub: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    argv: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    argv_b3: Option<String>,
    run_as: String,
    host: String,
    machine_id: String,
    nbf: u64,
    exp: u64,
    nonce: String,
    purpose: Purpose,
    ns: String,
}

/// BLAKE3 of the argv, each argument followed by one NUL byte
/// (`printf '%s\0' "$@" | b3sum`).
pub fn argv_digest<A: AsRef<[u8]>>(argv: &[A]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for a in argv {
        h.update(a.as_ref());
        h.update(b"\0");
    }
    *h.finalize().as_bytes()
}

/// The `argv` claim for an argv: the strings when every argument is
/// UTF-8, else its digest.
pub fn argv_claim(argv: &[OsString]) -> ArgvClaim {
    let strings: Option<Vec<String>> = argv
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect();
    match strings {
        Some(v) => ArgvClaim::Argv(v),
        None => ArgvClaim::Blake3(argv_digest(
            &argv.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
        )),
    }
}

fn hex32(b: &[u8; 32]) -> String {
    crate::policy::hash::hex(b)
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    crate::base::hex::decode(s.as_bytes())
}

/// Sign `claims` with an approver's key. The header's `kid` is
/// `claims.iss`. The claims are written as given (no checks): a token that
/// [`parse`] would refuse is refused at verification, not here.
pub fn sign(claims: &Claims, key: &SigningKey) -> String {
    let header = WireHeader {
        alg: ALG.to_string(),
        typ: TYP.to_string(),
        kid: claims.iss.clone(),
    };
    let (argv, argv_b3) = match &claims.argv {
        ArgvClaim::Argv(v) => (Some(v.clone()), None),
        ArgvClaim::Blake3(d) => (None, Some(hex32(d))),
    };
    let wire = WireClaims {
        iss: claims.iss.clone(),
        epoch: claims.epoch,
        sub: claims.sub.clone(),
        argv,
        argv_b3,
        run_as: claims.run_as.clone(),
        host: claims.host.clone(),
        machine_id: claims.machine_id.clone(),
        nbf: claims.nbf,
        exp: claims.exp,
        nonce: URL_SAFE_NO_PAD.encode(claims.nonce),
        purpose: claims.purpose,
        ns: claims.ns.clone(),
    };
    // Serializing these plain structs of strings and integers cannot fail.
    let h = serde_json::to_vec(&header).unwrap_or_default();
    let c = serde_json::to_vec(&wire).unwrap_or_default();
    let mut out = URL_SAFE_NO_PAD.encode(h);
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(c));
    let sig: Signature = key.sign(out.as_bytes());
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig.to_bytes()));
    out
}

/// A fresh 128-bit nonce from the kernel's CSPRNG.
pub fn new_nonce() -> Result<[u8; 16], String> {
    let mut n = [0u8; 16];
    getrandom::fill(&mut n).map_err(|e| format!("cannot get random bytes: {e}"))?;
    Ok(n)
}

// ---------------------------------------------------------------- parse

fn b64(seg: &str, what: &'static str) -> Result<Vec<u8>, TokenError> {
    // The NO_PAD engine refuses `=`, characters outside the URL-safe
    // alphabet and non-zero trailing bits (one encoding per value).
    URL_SAFE_NO_PAD
        .decode(seg)
        .map_err(|_| TokenError::Malformed(what))
}

/// A name-like claim: non-empty, at most [`MAX_NAME_BYTES`], no control
/// characters or whitespace.
pub fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_BYTES
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Parse a token strictly. Never panics; work is bounded by
/// [`MAX_TOKEN_BYTES`].
pub fn parse(token: &str) -> Result<Unverified, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three dot-separated parts"));
    };
    if h.is_empty() || c.is_empty() || s.is_empty() {
        return Err(TokenError::Malformed("empty part"));
    }
    let header: WireHeader = serde_json::from_slice(&b64(h, "header is not base64url")?)
        .map_err(|_| TokenError::Malformed("header is not the expected JSON"))?;
    if header.alg != ALG {
        return Err(TokenError::Malformed("alg is not EdDSA"));
    }
    if header.typ != TYP {
        return Err(TokenError::Malformed("typ is not belladonna-approval+jwt"));
    }
    if !crate::policy::names::is_approver_name(&header.kid) {
        return Err(TokenError::Malformed("kid is not a valid approver name"));
    }
    let wire: WireClaims = serde_json::from_slice(&b64(c, "claims are not base64url")?)
        .map_err(|_| TokenError::Malformed("claims are not the expected JSON"))?;
    let sig_bytes = b64(s, "signature is not base64url")?;
    let signature: [u8; 64] = sig_bytes
        .as_slice()
        .try_into()
        .map_err(|_| TokenError::Malformed("signature is not 64 bytes"))?;
    if wire.iss != header.kid {
        return Err(TokenError::Malformed("iss differs from kid"));
    }
    let argv = match (wire.argv, wire.argv_b3) {
        (Some(v), None) => {
            match v.first() {
                Some(a0) if a0.starts_with('/') => {}
                _ => return Err(TokenError::Malformed("argv[0] is not an absolute path")),
            }
            if v.iter().any(|a| a.contains('\0')) {
                return Err(TokenError::Malformed("argv contains a NUL character"));
            }
            ArgvClaim::Argv(v)
        }
        (None, Some(d)) => ArgvClaim::Blake3(unhex32(&d).ok_or(TokenError::Malformed(
            "argv_b3 is not 64 lower-case hex digits",
        ))?),
        _ => {
            return Err(TokenError::Malformed(
                "exactly one of argv and argv_b3 is required",
            ));
        }
    };
    if !name_ok(&wire.sub) || !name_ok(&wire.run_as) || !name_ok(&wire.host) {
        return Err(TokenError::Malformed(
            "sub, run_as or host is not a valid name",
        ));
    }
    if wire.machine_id.len() != 32
        || !wire
            .machine_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(TokenError::Malformed(
            "machine_id is not 32 lower-case hex digits",
        ));
    }
    if wire.exp <= wire.nbf || wire.exp - wire.nbf > MAX_LIFETIME_SECS {
        return Err(TokenError::Malformed(
            "exp must be after nbf, by at most 24 hours",
        ));
    }
    let nonce: [u8; 16] = b64(&wire.nonce, "nonce is not base64url")?
        .as_slice()
        .try_into()
        .map_err(|_| TokenError::Malformed("nonce is not 16 bytes"))?;
    if !crate::policy::names::is_namespace(&wire.ns) {
        return Err(TokenError::Malformed("ns is not a valid namespace"));
    }
    let signing_input = token
        .get(..h.len() + 1 + c.len())
        .ok_or(TokenError::Malformed("not three dot-separated parts"))?
        .as_bytes()
        .to_vec();
    Ok(Unverified {
        kid: header.kid,
        claims: Claims {
            iss: wire.iss,
            epoch: wire.epoch,
            sub: wire.sub,
            argv,
            run_as: wire.run_as,
            host: wire.host,
            machine_id: wire.machine_id,
            nbf: wire.nbf,
            exp: wire.exp,
            nonce,
            purpose: wire.purpose,
            ns: wire.ns,
        },
        signing_input,
        signature,
    })
}

// ---------------------------------------------------------------- verify

/// Check only the signature chain: the `kid` names an approver of the
/// policy, the token's epoch is that approver's epoch, and the signature
/// verifies with that key. What `bdctl token verify` reports; [`verify`]
/// adds the request binding.
pub fn verify_signature<'p>(
    u: &Unverified,
    approvers: &'p [Approver],
) -> Result<&'p Approver, TokenError> {
    let a = approvers
        .iter()
        .find(|a| a.name == u.kid)
        .ok_or(TokenError::UnknownKey)?;
    // The epoch is compared before the signature (the old key is no longer
    // known, so its signature could not be checked anyway): refusing on an
    // unauthenticated claim only ever refuses.
    if u.claims.epoch < a.epoch {
        return Err(TokenError::OlderEpoch);
    }
    if u.claims.epoch > a.epoch {
        return Err(TokenError::UnknownKey);
    }
    let key = VerifyingKey::from_bytes(&a.key).map_err(|_| TokenError::UnknownKey)?;
    // verify_strict: rejects small-order keys and non-canonical R/S.
    key.verify_strict(&u.signing_input, &Signature::from_bytes(&u.signature))
        .map_err(|_| TokenError::BadSignature)?;
    Ok(a)
}

/// Verify one token for one request: the signature chain
/// ([`verify_signature`]), then validity in time, then that every claim
/// binds this request on this host.
pub fn verify(
    u: &Unverified,
    approvers: &[Approver],
    expect: &Expect<'_>,
) -> Result<Verified, TokenError> {
    verify_signature(u, approvers)?;
    let c = &u.claims;
    if expect.now >= c.exp {
        return Err(TokenError::Expired);
    }
    if expect.now.saturating_add(NBF_LEEWAY_SECS) < c.nbf {
        return Err(TokenError::NotYetValid);
    }
    if c.purpose != expect.purpose {
        return Err(TokenError::WrongPurpose);
    }
    if c.host != expect.host || c.machine_id != expect.machine_id {
        return Err(TokenError::WrongHost);
    }
    if c.sub != expect.user {
        return Err(TokenError::WrongUser);
    }
    if c.run_as != expect.run_as {
        return Err(TokenError::WrongRunAs);
    }
    let argv_ok = match &c.argv {
        ArgvClaim::Argv(v) => {
            v.len() == expect.argv.len()
                && v.iter()
                    .zip(expect.argv)
                    .all(|(a, b)| a.as_bytes() == b.as_bytes())
        }
        ArgvClaim::Blake3(d) => {
            *d == argv_digest(&expect.argv.iter().map(|a| a.as_bytes()).collect::<Vec<_>>())
        }
    };
    if !argv_ok {
        return Err(TokenError::WrongArgv);
    }
    if c.ns != expect.ns {
        return Err(TokenError::WrongNamespace);
    }
    Ok(Verified { claims: c.clone() })
}

/// Verify the tokens presented for `rule`: each one must verify
/// ([`verify`], with the rule's nonce namespace instead of `expect.ns`)
/// and come from an approver the rule allows; no approver may appear
/// twice; and at least the rule's `approvals` distinct approvers must
/// have signed. Any bad token refuses the whole set (fail closed; the
/// error names the first bad token's problem). The returned tokens are
/// in the order given; the caller records each one's replay key.
pub fn verify_set(
    tokens: &[Unverified],
    rule: &Rule,
    approvers: &[Approver],
    expect: &Expect<'_>,
) -> Result<Vec<Verified>, TokenError> {
    verify_set_for(tokens, &rule.approval_req(), approvers, expect)
}

/// [`verify_set`] for a requirement that is not a rule's (the unfreeze
/// approvals of `[incident]`).
pub fn verify_set_for(
    tokens: &[Unverified],
    req: &crate::policy::model::Approval,
    approvers: &[Approver],
    expect: &Expect<'_>,
) -> Result<Vec<Verified>, TokenError> {
    let need = usize::try_from(req.approvals).unwrap_or(usize::MAX).max(1);
    if tokens.len() > MAX_TOKENS {
        return Err(TokenError::TooManyTokens);
    }
    let expect = Expect {
        ns: &req.nonce_namespace,
        ..*expect
    };
    let mut out: Vec<Verified> = Vec::with_capacity(tokens.len());
    for t in tokens {
        if !approvers.iter().any(|a| a.name == t.kid) {
            return Err(TokenError::UnknownKey);
        }
        if !req.approvers.is_empty() && !req.approvers.contains(&t.kid) {
            return Err(TokenError::ApproverNotAllowed);
        }
        if out.iter().any(|v| v.claims.iss == t.kid) {
            return Err(TokenError::DuplicateApprover);
        }
        out.push(verify(t, approvers, &expect)?);
    }
    if out.len() < need {
        return Err(TokenError::NotEnoughApprovals {
            have: out.len(),
            need,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- files

/// Read a token file. Call this with the CALLER's effective ids (the file
/// is the caller's; bdexec must not read it with privilege). Opened with
/// `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY` (a symlink, or a FIFO without a
/// writer, cannot block or redirect), then checked on the fd: a regular
/// file of at most [`MAX_TOKEN_BYTES`]. Trailing ASCII whitespace (the
/// newline of `bdctl token sign > file`) is removed; the rest must be
/// UTF-8 and is returned for [`parse`].
pub fn read_token_file(path: &Path) -> Result<String, TokenError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => TokenError::FileSymlink,
            _ => TokenError::FileIo(e.to_string()),
        })?;
    let md = f
        .metadata()
        .map_err(|e| TokenError::FileIo(e.to_string()))?;
    if !md.file_type().is_file() {
        return Err(TokenError::FileNotRegular);
    }
    if md.len() > MAX_TOKEN_BYTES as u64 {
        return Err(TokenError::TooLarge);
    }
    let mut buf = Vec::with_capacity(MAX_TOKEN_BYTES.min(usize::try_from(md.len()).unwrap_or(0)));
    // Read one byte more than allowed: a file that grew after fstat.
    f.take(MAX_TOKEN_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| TokenError::FileIo(e.to_string()))?;
    if buf.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let s = String::from_utf8(buf).map_err(|_| TokenError::Malformed("token file is not UTF-8"))?;
    Ok(s.trim_end_matches([' ', '\t', '\r', '\n']).to_string())
}

/// This host's identity for the `host` and `machine_id` claims:
/// `gethostname()` and the first line of `/etc/machine-id`.
pub fn host_identity() -> Result<(String, String), String> {
    let host = nix::unistd::gethostname()
        .map_err(|e| format!("gethostname: {e}"))?
        .into_string()
        .map_err(|_| "the host name is not UTF-8".to_string())?;
    let mut s = String::new();
    std::fs::File::open("/etc/machine-id")
        .and_then(|f| f.take(256).read_to_string(&mut s))
        .map_err(|e| format!("/etc/machine-id: {e}"))?;
    let id = s.trim().to_string();
    if id.len() != 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err("/etc/machine-id is not 32 lower-case hex digits".to_string());
    }
    Ok((host, id))
}

/// The fixed claims of an unfreeze token (`--purpose unfreeze`): it
/// names no user or command; it is bound to the host, the purpose and
/// the namespace "unfreeze".
pub mod unfreeze_claims {
    /// `sub` and `run_as`.
    pub const USER: &str = "root";
    /// `argv`.
    pub const ARGV: [&str; 2] = ["/bdctl", "unfreeze"];
    /// `ns`: the nonce namespace of unfreeze tokens.
    pub const NS: &str = "unfreeze";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_digest_is_nul_terminated() {
        let d = argv_digest(&[b"/bin/echo".as_slice(), b"a"]);
        assert_eq!(d, *blake3::hash(b"/bin/echo\0a\0").as_bytes());
        assert_ne!(
            argv_digest(&[b"/x".as_slice(), b""]),
            argv_digest(&[b"/x".as_slice()])
        );
    }

    #[test]
    fn hex_round_trip() {
        let mut x = [0u8; 32];
        x[0] = 0xa5;
        x[31] = 0x0f;
        assert_eq!(unhex32(&hex32(&x)), Some(x));
        assert_eq!(unhex32(&hex32(&x).to_uppercase()), None);
        assert_eq!(unhex32("zz"), None);
    }
}
