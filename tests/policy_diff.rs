//! `bdctl policy diff` on the corpus in tests/policy_diff/NN-name/
//! (a.toml -> b.toml, expected.txt, category), and drift categorisation
//! accuracy on the same pairs. No root needed.
//!
//! To regenerate expected outputs after an intended change (then review
//! every changed line): `BLESS=1 cargo test --test policy_diff`.

use belladonna::policy::load::load_policy_from;
use belladonna::policy::lock::{PinnedBy, lock_json, parse_lock};
use belladonna::review::drift::{self, Category};
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy_diff");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read corpus")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("a.toml").is_file())
        .collect();
    v.sort();
    assert!(v.len() >= 12, "corpus too small: {}", v.len());
    v
}

fn bdctl(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_bdctl"))
        .args(args)
        .output()
        .expect("run bdctl");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn corpus_output_and_exit_codes() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for case in corpus() {
        let (a, b) = (s(&case.join("a.toml")), s(&case.join("b.toml")));
        let (out, err, code) = bdctl(&["policy", "diff", &a, &b]);
        let expected_path = case.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &out).expect("bless");
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if out != expected {
            failures.push(format!(
                "{}: output differs\n--- expected\n{expected}--- got\n{out}{err}",
                case.display()
            ));
            continue;
        }
        let widens = out.lines().any(|l| l.starts_with("+ "));
        let want = i32::from(widens);
        if code != want {
            failures.push(format!("{}: exit {code}, want {want}", case.display()));
        }
        // --allow-widen always exits 0; the alias prints the same.
        let (out2, _, code2) = bdctl(&["policy", "diff", "--allow-widen", &a, &b]);
        assert_eq!(
            (out2.as_str(), code2),
            (out.as_str(), 0),
            "{}",
            case.display()
        );
        let (out3, _, code3) = bdctl(&["dev", "policy-diff", &a, &b]);
        assert_eq!(
            (out3.as_str(), code3),
            (out.as_str(), code),
            "{}",
            case.display()
        );
        // JSON: same counts.
        let (js, _, code4) = bdctl(&["policy", "diff", "--json", &a, &b]);
        assert_eq!(code4, code);
        let v: serde_json::Value = serde_json::from_str(&js).expect("json");
        let count = |p: &str| out.lines().filter(|l| l.starts_with(p)).count() as u64;
        assert_eq!(v["summary"]["widening"], count("+ "), "{}", case.display());
        assert_eq!(v["summary"]["narrowing"], count("- "), "{}", case.display());
        assert_eq!(v["summary"]["neutral"], count("~ "), "{}", case.display());
        assert_eq!(
            v["changes"].as_array().map(Vec::len),
            Some(
                out.lines()
                    .filter(|l| l.starts_with(['+', '-', '~']))
                    .count()
            )
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reformatting_only_has_same_hash_and_no_change() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy_diff/13-reformat-only");
    let (out, _, code) = bdctl(&[
        "policy",
        "diff",
        &s(&case.join("a.toml")),
        &s(&case.join("b.toml")),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "hash: identical\nsummary: 0 widening, 0 narrowing, 0 neutral\n"
    );
}

#[test]
fn usage_and_load_errors_exit_2() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy_diff/01-add-user");
    let a = s(&case.join("a.toml"));
    let (_, err, code) = bdctl(&["policy", "diff", &a, "/nonexistent/b.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/b.toml"), "{err}");
    let (_, _, code) = bdctl(&["policy", "diff", &a]);
    assert_eq!(code, 2);
    let tmp = tempfile::tempdir().expect("tmp");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "version = 1\n[[rule]]\nname = 3\n").expect("write");
    let (out, err, code) = bdctl(&["policy", "diff", &a, &s(&bad)]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("bad.toml:3:"), "{err}");
}

fn category_name(c: Option<Category>) -> &'static str {
    c.map_or("none", Category::as_str)
}

/// Drift categorisation accuracy: every corpus pair pinned as A and
/// installed as B, against the expected category.
#[test]
fn drift_categorisation_accuracy() {
    let by = PinnedBy {
        uid: 0,
        name: Some("root".into()),
    };
    let (mut right, mut total) = (0, 0);
    let mut wrong = Vec::new();
    for case in corpus() {
        let want = std::fs::read_to_string(case.join("category")).unwrap_or_default();
        let want = want.trim();
        let a = load_policy_from(&case.join("a.toml")).expect("a");
        let b = load_policy_from(&case.join("b.toml")).expect("b");
        let lock =
            parse_lock(lock_json(&a, &by, "t").as_bytes(), Path::new("/lock")).expect("lock");
        let got = drift::check(&b, &lock);
        let name = category_name(got.as_ref().map(|d| d.category));
        total += 1;
        if name == want {
            right += 1;
        } else {
            wrong.push(format!("{}: want {want}, got {name}", case.display()));
        }
        if let Some(d) = &got {
            assert!(!d.segments.is_empty(), "{}", case.display());
            assert!(d.summary().starts_with("drift "));
        }
    }
    println!("drift categorisation accuracy: {right}/{total}");
    assert_eq!(right, total, "{}", wrong.join("\n"));
}

/// 10,000 rules: diff stays fast (measured; printed). The policies are
/// built from one parsed rule (parsing 10,000 rules is the parser's cost,
/// measured elsewhere).
#[test]
fn ten_thousand_rules() {
    use belladonna::policy::model::{Args, Principal};
    let tmpl = belladonna::policy::parse::parse_main(
        "version = 1\n[[rule]]\nname = \"t\"\nusers = [\"u\"]\ncommands = [\"/x\"]\n",
        Path::new("/t.toml"),
    )
    .expect("template");
    let rule0 = tmpl.rules[0].clone();
    let mut a = tmpl.clone();
    a.rules = (0..10_000)
        .map(|i| {
            let mut r = rule0.clone();
            r.name = format!("r{i}");
            r.users = vec![Principal::Name(format!("u{}", i % 500))];
            r.groups = vec![Principal::Name(format!("g{}", i % 50))];
            r.run_as = vec![Principal::Name("root".into()), Principal::Id(i % 7)];
            r.commands = vec![r.commands[0].clone(), r.commands[0].clone()];
            r.commands[0].path = format!("/usr/bin/c{}", i % 1000).into();
            r.commands[0].args = Args::Prefix(vec![]);
            r.commands[1].path = format!("/usr/bin/d{i}").into();
            r.commands[1].args = Args::Exact(vec!["x".into(), "y".into()]);
            r
        })
        .collect();
    let mut b = a.clone();
    b.rules[77].users.push(Principal::Name("eve".into()));
    let t = std::time::Instant::now();
    let d = belladonna::review::diff::diff(&a, &b);
    let el = t.elapsed();
    println!(
        "diff of two 10,000-rule policies: {:?} ({} changes)",
        el,
        d.changes.len()
    );
    assert!(d.widens());
    assert!(
        d.changes.iter().all(|c| c.subject == "user eve"),
        "{}",
        d.render_text()
    );
    let t = std::time::Instant::now();
    let same = belladonna::review::diff::diff(&a, &a);
    println!("diff of identical 10,000-rule policies: {:?}", t.elapsed());
    assert!(same.changes.is_empty());
}

/// A 10,000-rule policy as text: parse, hash and lint stay fast. Timings
/// are printed (`--nocapture`), never asserted (DESIGN section 13).
#[test]
fn ten_thousand_rules_parse_hash_lint() {
    let mut text = String::from("version = 1\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nusers = [\"u{}\"]\ngroups = [\"g{}\"]\nrun_as = [\"root\", \"#{}\"]\ncommands = [\"/usr/bin/c{} *\", \"/usr/bin/d{i} x y\"]\nauth = \"none\"\n",
            i % 500,
            i % 50,
            i % 7,
            i % 1000
        ));
    }
    let t = std::time::Instant::now();
    let p = belladonna::policy::parse::parse_main(&text, Path::new("/big.toml")).expect("parses");
    let parse = t.elapsed();
    let t = std::time::Instant::now();
    let h = belladonna::policy::hash::policy_hash(&p);
    let hash = t.elapsed();
    let t = std::time::Instant::now();
    let findings = belladonna::policy::lint::lint(&p);
    let lint = t.elapsed();
    println!(
        "10,000 rules ({} KiB): parse {parse:?}, hash {hash:?}, lint {lint:?} ({} findings)",
        text.len() / 1024,
        findings.len()
    );
    assert_eq!(p.rules.len(), 10_000);
    assert_eq!(
        h,
        belladonna::policy::hash::policy_hash(&p),
        "hash is stable"
    );
}
