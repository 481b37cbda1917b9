//! The raw serde shapes of a policy file, before validation (with spans
//! for error positions).
#![forbid(unsafe_code)]

use super::*;

// ---------------------------------------------------------------- raw serde

pub(super) type SStr = Spanned<String>;
pub(super) type EnvTable = BTreeMap<SStr, SStr>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) version: Option<Spanned<i64>>,
    pub(super) defaults: Option<Spanned<RawDefaults>>,
    pub(super) rule: Option<Vec<Spanned<RawRule>>>,
    pub(super) sandbox: Option<Spanned<BTreeMap<SStr, Spanned<RawProfile>>>>,
    pub(super) approvers: Option<Spanned<BTreeMap<SStr, Spanned<RawApprover>>>>,
    pub(super) incident: Option<Spanned<RawIncident>>,
    pub(super) decoy: Option<Vec<Spanned<RawRule>>>,
    pub(super) audit: Option<Spanned<RawAudit>>,
}

/// `[audit]` (src/policy/parse/audit.rs validates it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    pub(super) low_space: Option<SStr>,
    pub(super) critical_space: Option<SStr>,
    pub(super) on_full: Option<SStr>,
    pub(super) on_io_error: Option<SStr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIncident {
    pub(super) auto_freeze: Option<bool>,
    pub(super) freeze_score: Option<Spanned<f64>>,
    pub(super) decoy_floor: Option<Spanned<i64>>,
    pub(super) decoy_factor: Option<Spanned<f64>>,
    pub(super) decoy_window: Option<SStr>,
    pub(super) unfreeze_approvals: Option<Spanned<i64>>,
    pub(super) unfreeze_approvers: Option<Spanned<Vec<SStr>>>,
    pub(super) trace_sample_rate: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApprover {
    pub(super) key: Option<SStr>,
    pub(super) epoch: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    pub(super) landlock: Option<Spanned<RawLandlock>>,
    pub(super) seccomp: Option<Spanned<RawSeccomp>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLandlock {
    pub(super) read: Option<Vec<SStr>>,
    pub(super) write: Option<Vec<SStr>>,
    pub(super) exec: Option<Vec<SStr>>,
    pub(super) bind_tcp: Option<Vec<Spanned<i64>>>,
    pub(super) connect_tcp: Option<Vec<Spanned<i64>>>,
    pub(super) scope: Option<Vec<SStr>>,
    pub(super) min_abi: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSeccomp {
    pub(super) allow: Option<Vec<SStr>>,
    pub(super) deny: Option<Vec<SStr>>,
    pub(super) action: Option<SStr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) secure_path: Option<SStr>,
    pub(super) env_keep: Option<Vec<SStr>>,
    pub(super) umask: Option<SStr>,
    pub(super) setenv: Option<EnvTable>,
    pub(super) sandbox: Option<SStr>,
    pub(super) drift: Option<SStr>,
    pub(super) pam_account: Option<bool>,
    pub(super) pam_account_memo: Option<bool>,
    pub(super) timestamp_timeout: Option<SStr>,
    pub(super) telemetry_sample_rate: Option<Spanned<f64>>,
    pub(super) monitor: Option<bool>,
    pub(super) use_pty: Option<bool>,
    pub(super) require_tty: Option<bool>,
    pub(super) record: Option<bool>,
    pub(super) record_input: Option<bool>,
    pub(super) noexec: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) name: Option<SStr>,
    pub(super) users: Option<Vec<SStr>>,
    pub(super) groups: Option<Vec<SStr>>,
    pub(super) run_as: Option<Spanned<Vec<SStr>>>,
    pub(super) commands: Option<Spanned<Vec<Spanned<RawCommand>>>>,
    pub(super) auth: Option<SStr>,
    pub(super) action: Option<SStr>,
    pub(super) setenv: Option<EnvTable>,
    pub(super) sandbox: Option<SStr>,
    pub(super) caps: Option<Vec<SStr>>,
    pub(super) approvals: Option<Spanned<i64>>,
    pub(super) approvers: Option<Spanned<Vec<SStr>>>,
    pub(super) nonce_namespace: Option<SStr>,
    pub(super) rate: Option<SStr>,
    pub(super) env_keep: Option<Spanned<Vec<SStr>>>,
    pub(super) secure_path: Option<SStr>,
    pub(super) timestamp_timeout: Option<SStr>,
    pub(super) preserve_env: Option<Spanned<RawPreserveEnv>>,
    pub(super) caller_options: Option<Spanned<Vec<SStr>>>,
    pub(super) timeout: Option<SStr>,
    pub(super) break_glass: Option<Spanned<bool>>,
    pub(super) monitor: Option<bool>,
    pub(super) use_pty: Option<bool>,
    pub(super) require_tty: Option<bool>,
    pub(super) record: Option<bool>,
    pub(super) record_input: Option<bool>,
    pub(super) run_as_groups: Option<Spanned<Vec<SStr>>>,
    pub(super) chdir: Option<Spanned<Vec<SStr>>>,
    pub(super) edit: Option<Spanned<Vec<SStr>>>,
    pub(super) noexec: Option<bool>,
}

/// `preserve_env = true | false | ["NAME", ...]`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawPreserveEnv {
    All(bool),
    Only(Vec<String>),
}

/// A `commands` element: a string, or `{ cmd = "...", digest = "..." }`.
pub(super) enum RawCommand {
    Line(String),
    Table(RawCommandTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCommandTable {
    pub(super) cmd: SStr,
    pub(super) digest: Option<SStr>,
}

impl<'de> Deserialize<'de> for RawCommand {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCommand;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a command string or a table { cmd = \"...\", digest = \"blake3:...\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawCommand, E> {
                Ok(RawCommand::Line(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawCommand, E> {
                Ok(RawCommand::Line(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawCommand, A::Error> {
                RawCommandTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawCommand::Table)
            }
        }
        d.deserialize_any(V)
    }
}
