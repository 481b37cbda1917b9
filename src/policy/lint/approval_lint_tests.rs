use super::*;
use crate::policy::parse::parse_main;
use std::path::Path;

#[test]
fn unsatisfiable_approval_rule_is_an_error() {
    let p = parse_main(
        "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/bin/true\"]\nauth = \"approval\"\n",
        Path::new("p.toml"),
    )
    .expect("parses");
    let f = lint(&p);
    assert!(
        f.iter()
            .any(|f| f.severity == Severity::Error && f.message.contains("never run")),
        "{f:?}"
    );
}
