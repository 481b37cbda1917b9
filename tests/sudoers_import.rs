//! `bdctl import sudoers`: the corpus in tests/sudoers/ and the
//! never-widen check against the real sudo.
//!
//! Each corpus case is a directory `NN-name/` with `sudoers` (and any
//! files it includes), and either `expected.toml` + `expected-warnings.txt`
//! (the import must produce exactly these) or `expected-error.txt` (the
//! import must refuse with exactly this message). Set
//! `BELLADONNA_BLESS=1` to rewrite the expected files from the current
//! output (then review the diff).
//!
//! The never-widen check (root only) installs each case as /etc/sudoers
//! in a private mount namespace and, for a set of probe requests, asks
//! the real sudo (`sudo -l -h bdhost -U USER -u TARGET CMD ARGS...`,
//! exit 0 = allowed) and Belladonna's decision engine on the imported
//! policy: Belladonna allows => sudo allows, for every probe. The probes
//! name each command by its corpus path and by every other name of the
//! same file (hard links and symlinks in the system's bin directories,
//! and a caller-made symlink with the same base name in a scratch
//! directory): one file often has several personalities (vim/rview,
//! bzcat/bunzip2, sh/dash, reboot/systemctl) and only the name the rule
//! writes is granted.

#[macro_use]
mod common;

use belladonna::decide::decide;
use belladonna::policy::import::{Imported, Options, import_file};
use belladonna::policy::model::{Args, Policy};
use belladonna::policy::parse::parse_main;
use belladonna::request::{Caller, FileId, FileIds, Invoked, Request, Target};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The host name the corpus is imported for (and sudo is asked about).
const HOST: &str = "bdhost";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sudoers")
}

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("tests/sudoers")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("sudoers").is_file())
        .collect();
    v.sort();
    v
}

fn import(case: &Path) -> Result<Imported, String> {
    import_file(
        &case.join("sudoers"),
        &Options {
            hostname: HOST.to_string(),
        },
    )
    .map_err(|e| e.to_string())
}

fn warnings_text(i: &Imported) -> String {
    i.warnings.iter().map(|w| format!("{w}\n")).collect()
}

#[test]
fn corpus_has_enough_cases() {
    let n = cases().len();
    assert!(n >= 10, "only {n} corpus cases");
}

#[test]
fn corpus_imports_exactly_as_expected() {
    let bless = std::env::var_os("BELLADONNA_BLESS").is_some();
    let mut failures = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let got = import(&case);
        let err_file = case.join("expected-error.txt");
        if bless {
            match &got {
                Ok(i) => {
                    fs::write(case.join("expected.toml"), &i.toml).unwrap();
                    fs::write(case.join("expected-warnings.txt"), warnings_text(i)).unwrap();
                    let _ = fs::remove_file(&err_file);
                }
                Err(e) => {
                    fs::write(&err_file, format!("{e}\n")).unwrap();
                    let _ = fs::remove_file(case.join("expected.toml"));
                    let _ = fs::remove_file(case.join("expected-warnings.txt"));
                }
            }
            continue;
        }
        match (&got, fs::read_to_string(&err_file)) {
            (Err(e), Ok(want)) => {
                if e.trim() != want.trim() {
                    failures.push(format!("{name}: refused with\n  {e}\nexpected\n  {want}"));
                }
            }
            (Ok(i), Err(_)) => {
                let want = fs::read_to_string(case.join("expected.toml")).unwrap_or_default();
                if i.toml != want {
                    failures.push(format!(
                        "{name}: policy differs\n--- got ---\n{}\n--- expected ---\n{want}",
                        i.toml
                    ));
                }
                let want_w =
                    fs::read_to_string(case.join("expected-warnings.txt")).unwrap_or_default();
                if warnings_text(i) != want_w {
                    failures.push(format!(
                        "{name}: warnings differ\n--- got ---\n{}--- expected ---\n{want_w}",
                        warnings_text(i)
                    ));
                }
                // The output always loads.
                if let Err(e) = parse_main(&i.toml, Path::new("imported.toml")) {
                    failures.push(format!("{name}: output does not load: {e}"));
                }
            }
            (Err(e), Err(_)) => failures.push(format!("{name}: refused unexpectedly: {e}")),
            (Ok(_), Ok(want)) => failures.push(format!(
                "{name}: imported, but a refusal was expected: {want}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The stock Debian, RHEL and Arch files import with every line accounted
/// for (a rule, or a note saying why not) and the administrators' grants
/// kept; their policy passes the lint without an ERROR.
#[test]
fn distribution_defaults_import_without_losing_administrators() {
    use belladonna::policy::import::LineOutcome;
    use belladonna::policy::lint::{Severity, lint};
    for (case, admin) in [
        ("12-debian-default", "%sudo"),
        ("17-rhel-default", "%wheel"),
        ("18-arch-default", "%wheel"),
    ] {
        let i = import(&corpus_dir().join(case)).unwrap_or_else(|e| panic!("{case}: {e}"));
        let p = parse_main(&i.toml, Path::new("imported.toml")).unwrap();
        // `bdctl policy check --offline` finds no ERROR (the stock rules
        // and the corpus.d drop-ins the test adds).
        let errors: Vec<String> = lint(&p)
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.to_string())
            .collect();
        assert!(errors.is_empty(), "{case}: {errors:#?}");
        for r in &i.lines {
            assert!(
                r.outcome == LineOutcome::Mapped || !r.notes.is_empty(),
                "{case}: {r:?} lost without a note"
            );
        }
        let admin_row = i
            .lines
            .iter()
            .find(|r| r.text.starts_with(admin))
            .unwrap_or_else(|| panic!("{case}: no {admin} line"));
        assert!(!admin_row.rules.is_empty(), "{case}: {admin_row:?}");
        let rule = p
            .rules
            .iter()
            .find(|r| r.name == admin_row.rules[0])
            .unwrap();
        assert_eq!(rule.commands[0].path, Path::new("ALL"), "{case}");
        assert_eq!(rule.run_as[0].to_string(), "ALL", "{case}");
        assert_eq!(rule.auth.as_str(), "password", "{case}");
    }
}

#[test]
fn import_is_deterministic() {
    for case in cases() {
        let a = import(&case);
        let b = import(&case);
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a.toml, b.toml),
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("{} differs between runs", case.display()),
        }
    }
}

#[test]
fn include_cycle_and_missing_file_are_refused() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("sudoers"), "@include other\n").unwrap();
    fs::write(d.path().join("other"), "@include sudoers\n").unwrap();
    let e = import_file(
        &d.path().join("sudoers"),
        &Options {
            hostname: HOST.into(),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("include cycle"), "{e}");
    assert!(e.starts_with("other:1:"), "{e}");
    fs::write(
        d.path().join("sudoers"),
        "alice ALL = /usr/bin/id\n@include nope\n",
    )
    .unwrap();
    let e = import_file(
        &d.path().join("sudoers"),
        &Options {
            hostname: HOST.into(),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("sudoers:2:"), "{e}");
    fs::write(d.path().join("sudoers"), b"alice ALL = /usr/bin/id \xff\n").unwrap();
    let e = import_file(
        &d.path().join("sudoers"),
        &Options {
            hostname: HOST.into(),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("UTF-8"), "{e}");
}

// ---------------------------------------------------------------- never widen

struct RealIds;

impl FileIds for RealIds {
    fn id_of(&self, path: &Path) -> Option<FileId> {
        fs::metadata(path).ok().map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    fn dir_entry(&self, dir: &Path, name: &std::ffi::OsStr) -> Option<FileId> {
        belladonna::exec::resolve::StatFileIds::default().dir_entry(dir, name)
    }
}

fn group_name(gid: u32) -> Option<String> {
    if gid == common::OPS_GID {
        return Some("ops".into());
    }
    common::USERS
        .iter()
        .find(|u| u.gid == gid)
        .map(|u| u.name.to_string())
}

fn caller(u: &common::TestUser) -> Caller {
    Caller {
        uid: u.uid,
        gid: u.gid,
        name: Some(u.name.to_string()),
        gids: u.groups.to_vec(),
        group_names: u.groups.iter().filter_map(|g| group_name(*g)).collect(),
    }
}

fn target(name: &str) -> Target {
    let u = common::user(name);
    // The target's groups, as the test's /etc/group has them (group
    // targets, `run_as = ["%ops"]`, are checked on these).
    Target {
        uid: u.uid,
        gid: u.gid,
        name: name.to_string(),
        gids: u.groups.to_vec(),
        group_names: u.groups.iter().filter_map(|g| group_name(*g)).collect(),
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Copy a case into the test's /etc layer (files 0440 root, dirs 0755).
fn install_case(env: &common::TestEnv, case: &Path, rel: &Path) {
    for e in fs::read_dir(case.join(rel)).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let r = rel.join(&name);
        if e.file_type().unwrap().is_dir() {
            common::mkdir_mode(&env.etc(&r.to_string_lossy()), 0o755);
            install_case(env, case, &r);
        } else if !name.starts_with("expected") {
            common::write_mode(
                &env.etc(&r.to_string_lossy()),
                &fs::read(e.path()).unwrap(),
                0o440,
            );
        }
    }
}

/// Command paths named in the corpus text (words starting with '/',
/// without pattern characters, that exist here).
fn corpus_paths(case: &Path, out: &mut BTreeSet<String>) {
    for e in fs::read_dir(case).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            corpus_paths(&p, out);
            continue;
        }
        let text = fs::read_to_string(&p).unwrap_or_default();
        for w in text.split(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '"') {
            if (w.starts_with("/usr/") || w.starts_with("/bin/"))
                && !w.contains(['*', '?', '[', '\\'])
                && Path::new(w).is_file()
            {
                out.insert(w.to_string());
            }
        }
    }
}

/// The system directories searched for other names of a command's file.
const BIN_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Every name in [`BIN_DIRS`] of each file (hard links, and symlinks
/// followed), by file identity.
fn names_by_file() -> BTreeMap<(u64, u64), BTreeSet<String>> {
    let mut m: BTreeMap<(u64, u64), BTreeSet<String>> = BTreeMap::new();
    for d in BIN_DIRS {
        let Ok(rd) = fs::read_dir(d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if let Ok(md) = fs::metadata(&p)
                && md.is_file()
            {
                m.entry((md.dev(), md.ino()))
                    .or_default()
                    .insert(p.to_string_lossy().into_owned());
            }
        }
    }
    m
}

/// The other names of each path's file: its aliases in the system's bin
/// directories, and a symlink with the path's base name in `scratch`
/// (what a caller can make in a directory it owns).
fn aliases(
    paths: &BTreeSet<String>,
    names: &BTreeMap<(u64, u64), BTreeSet<String>>,
    scratch: &Path,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in paths {
        let Ok(md) = fs::metadata(p) else { continue };
        if let Some(n) = names.get(&(md.dev(), md.ino())) {
            out.extend(n.iter().filter(|n| !paths.contains(*n)).cloned());
        }
        let Some(base) = Path::new(p).file_name() else {
            continue;
        };
        // One directory per path, so two corpus paths with one base name
        // get a link each.
        let dir = scratch.join(format!("alias{}", out.len()));
        fs::create_dir_all(&dir).unwrap();
        let link = dir.join(base);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(p, &link).unwrap();
        out.insert(link.to_string_lossy().into_owned());
    }
    out
}

/// The argument vectors of a path, for its aliases: the alias stands for
/// the file, so it gets the arguments the policy and the corpus give the
/// file's named paths.
fn alias_args(
    policy: &Policy,
    alias: &str,
    named: &BTreeSet<String>,
    text: &str,
) -> BTreeSet<Vec<String>> {
    let Ok(md) = fs::metadata(alias) else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for p in named {
        if let Ok(m) = fs::metadata(p)
            && (m.dev(), m.ino()) == (md.dev(), md.ino())
        {
            out.extend(probe_args(policy, p, text));
        }
    }
    out
}

/// Argument vectors to try for `path`, from the imported policy and the
/// corpus text.
fn probe_args(policy: &Policy, path: &str, sudoers_text: &str) -> BTreeSet<Vec<String>> {
    let mut out: BTreeSet<Vec<String>> = BTreeSet::new();
    out.insert(vec![]);
    out.insert(vec!["extra".into()]);
    out.insert(vec!["/root".into()]);
    for r in &policy.rules {
        for c in &r.commands {
            if c.path != Path::new(path) {
                continue;
            }
            let v = match &c.args {
                Args::None => vec![],
                Args::Exact(v) | Args::Prefix(v) => v.clone(),
            };
            out.insert(v.clone());
            let mut more = v.clone();
            more.push("extra".into());
            out.insert(more);
            if v.len() > 1 {
                out.insert(vec![v.join(" ")]);
                out.insert(v[..v.len() - 1].to_vec());
            }
        }
    }
    // Words after the path in the sudoers text, up to ',' or ':'.
    for line in sudoers_text.lines() {
        let mut rest = line;
        while let Some(i) = rest.find(path) {
            let after = &rest[i + path.len()..];
            let end = after.find([',', ':', '#']).unwrap_or(after.len());
            let words: Vec<String> = after[..end]
                .split_whitespace()
                .map(|w| w.replace('\\', ""))
                .collect();
            if !words.is_empty() && words.iter().all(|w| w != "\"\"") {
                out.insert(words.clone());
                if words.len() > 1 {
                    out.insert(vec![words.join(" ")]);
                }
                let mut more = words.clone();
                more.push("extra".into());
                out.insert(more);
            }
            rest = after;
        }
    }
    out
}

/// Probe paths for `ALL` and command directories, which name no command:
/// a few ordinary and dangerous commands for ALL, the first files of each
/// directory.
fn broad_paths(policy: &Policy, out: &mut BTreeSet<String>) {
    use belladonna::policy::model::CommandKind;
    for c in policy.rules.iter().flat_map(|r| &r.commands) {
        match c.kind {
            CommandKind::All => {
                for p in ["/usr/bin/id", "/bin/sh", "/usr/bin/env", "/usr/bin/ls"] {
                    if Path::new(p).is_file() {
                        out.insert(p.to_string());
                    }
                }
            }
            CommandKind::Dir => {
                let Ok(rd) = fs::read_dir(&c.path) else {
                    continue;
                };
                let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
                v.sort();
                for p in v.into_iter().filter(|p| p.is_file()).take(4) {
                    out.insert(p.to_string_lossy().into_owned());
                }
            }
            CommandKind::File => {}
        }
    }
}

fn all_text(case: &Path) -> String {
    let mut s = String::new();
    for e in fs::read_dir(case).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            s.push_str(&all_text(&p));
        } else if !p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("expected")
        {
            s.push_str(&fs::read_to_string(&p).unwrap_or_default());
            s.push('\n');
        }
    }
    s
}

#[test]
fn never_widen_against_real_sudo() {
    let env = test_env!("never_widen_against_real_sudo");
    assert!(
        Path::new("/usr/bin/sudo").exists(),
        "sudo is not installed (make deps, or apt-get install -y sudo)"
    );
    let users = ["alice", "bob", "carol", "mallory"];
    // carol is in ops: a group target (`(%ops)`) is probed with a member.
    let targets = ["root", "bob", "alice", "carol"];
    let mut failures = Vec::new();
    let (mut n_probes, mut n_bd_allow, mut n_sudo_allow) = (0usize, 0usize, 0usize);
    let names = names_by_file();
    let mut n_aliases = 0usize;
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(imported) = import(&case) else {
            continue; // refused: nothing to check
        };
        let policy = parse_main(&imported.toml, Path::new("imported.toml"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Fresh /etc layer content for this case.
        let _ = fs::remove_dir_all(env.etc("corpus.d"));
        install_case(&env, &case, Path::new(""));

        // What sudo lists for each user: its command paths join the probes.
        let mut listing = String::new();
        for u in users {
            listing.push_str(&format!(
                "echo '@@@ {u}'; sudo -n -l -h {HOST} -U {u} 2>&1; echo \"@@@ rc=$?\"\n"
            ));
        }
        let out = env.sh_in_ns("root", &listing);
        let listed = out.stdout_str();
        assert!(
            !listed.contains("syntax error") && !listed.contains("parse error"),
            "{name}: sudo can't parse the corpus file:\n{listed}"
        );
        let mut paths = BTreeSet::new();
        corpus_paths(&case, &mut paths);
        for w in listed.split(|c: char| c.is_whitespace() || c == ',') {
            if w.starts_with('/') && !w.contains(['*', '?', '[']) && Path::new(w).is_file() {
                paths.insert(w.to_string());
            }
        }
        broad_paths(&policy, &mut paths);
        let text = all_text(&case);
        let others = aliases(&paths, &names, &env.scratch().join(&name));
        n_aliases += others.len();

        // Every probe, as one script: "P<n> <rc>" per line.
        let mut probes: Vec<(String, String, String, Vec<String>)> = Vec::new();
        let with_args = paths
            .iter()
            .map(|p| (p, probe_args(&policy, p, &text)))
            .chain(
                others
                    .iter()
                    .map(|a| (a, alias_args(&policy, a, &paths, &text))),
            );
        for (p, argsets) in with_args {
            for args in argsets {
                for u in users {
                    for t in targets {
                        probes.push((u.to_string(), t.to_string(), p.clone(), args.clone()));
                    }
                }
            }
        }
        // Only what Belladonna allows needs sudo's verdict (the property is
        // "Belladonna allows => sudo allows"); sudo is slow to ask.
        let verdicts: Vec<bool> = probes
            .iter()
            .map(|(u, t, p, args)| {
                let c = caller(&common::user(u));
                let tg = target(t);
                // The name as the caller types it, its directory and file
                // as bdexec's resolution records them.
                let Some(command) = Invoked::named(Path::new(p), &RealIds) else {
                    return false;
                };
                let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
                let req = Request {
                    caller: &c,
                    target: &tg,
                    command,
                    args: &argv,
                };
                // The probes have no terminal: a require_tty rule is
                // refused by bdexec as by sudo's requiretty.
                match decide(&policy, &req, &RealIds) {
                    belladonna::decide::Decision::Allow { rule, .. } => {
                        rule.session.or(policy.defaults.session).require_tty != Some(true)
                    }
                    _ => false,
                }
            })
            .collect();
        let mut script = String::new();
        for (i, (u, t, p, args)) in probes.iter().enumerate() {
            if !verdicts[i] {
                continue;
            }
            let a: Vec<String> = args.iter().map(|a| sh_quote(a)).collect();
            script.push_str(&format!(
                "sudo -n -l -h {HOST} -U {u} -u {t} {} {} >/dev/null 2>&1; echo \"P{i} $?\"\n",
                sh_quote(p),
                a.join(" ")
            ));
        }
        let out = env.sh_in_ns("root", &script);
        let mut sudo_rc: Vec<Option<i32>> = vec![None; probes.len()];
        for line in out.stdout_str().lines() {
            let Some(rest) = line.strip_prefix('P') else {
                continue;
            };
            let mut it = rest.split_whitespace();
            if let (Some(i), Some(rc)) = (it.next(), it.next())
                && let (Ok(i), Ok(rc)) = (i.parse::<usize>(), rc.parse::<i32>())
                && let Some(slot) = sudo_rc.get_mut(i)
            {
                *slot = Some(rc);
            }
        }
        for (i, (u, t, p, args)) in probes.iter().enumerate() {
            n_probes += 1;
            if !verdicts[i] {
                continue;
            }
            n_bd_allow += 1;
            match sudo_rc[i] {
                Some(0) => n_sudo_allow += 1,
                rc => failures.push(format!(
                    "{name}: WIDENED: {u} -> {t}: {p} {args:?}: Belladonna allows, sudo denies (rc {rc:?})"
                )),
            }
        }
    }
    common::loud(&format!(
        "never-widen: {n_probes} probes ({n_aliases} other names of corpus commands), Belladonna allowed {n_bd_allow}, sudo agreed on {n_sudo_allow}"
    ));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The check is not vacuous.
    assert!(
        n_bd_allow > 20 && n_sudo_allow == n_bd_allow,
        "{n_bd_allow} {n_sudo_allow}"
    );
}
