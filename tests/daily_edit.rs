//! `bdexec -e` (issue 13 item 5, sudoedit) through the real bdexec as
//! an unprivileged user in its own namespace, with editors replaced by
//! scripts, some of which race: a copy swapped for a symbolic link, the
//! original changed behind bdexec's back. And the bad inputs the issue
//! names: a symbolic link, a file in a world-writable directory, a path
//! through a directory the caller owns, `..`, `EDITOR="vi -- /etc/shadow"`.

#[macro_use]
mod common;
use common::*;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

struct Edit {
    env: TestEnv,
    /// The scratch directory (1777, as /tmp).
    s: String,
}

/// scratch/conf (root 0755) with app.conf (root 0640 "old"), a symbolic
/// link to it, scratch/x.conf (in the 1777 directory), scratch/alice
/// (alice's) / sub (root's) / f.conf; a rule letting alice edit
/// `*.conf` there as root.
fn setup(name: &str) -> Option<Edit> {
    let env = TestEnv::new(&format!("daily_edit::{name}"))?;
    let s = env.scratch().display().to_string();
    let conf = env.scratch().join("conf");
    mkdir_mode(&conf, 0o755);
    write_mode(&conf.join("app.conf"), b"old\n", 0o640);
    std::os::unix::fs::symlink(conf.join("app.conf"), conf.join("link.conf")).unwrap();
    write_mode(&env.scratch().join("x.conf"), b"old\n", 0o644);
    let alice = env.scratch().join("alice");
    mkdir_mode(&alice, 0o755);
    std::os::unix::fs::chown(&alice, Some(ALICE.uid), Some(ALICE.gid)).unwrap();
    mkdir_mode(&alice.join("sub"), 0o755);
    write_mode(&alice.join("sub/f.conf"), b"old\n", 0o644);
    env.policy(&format!(
        r#"version = 1
[[rule]]
name = "edit-conf"
users = ["alice"]
edit = ["{s}/conf/*.conf", "{s}/*.conf", "{s}/alice/*/*.conf"]
auth = "none"
"#
    ));
    Some(Edit { env, s })
}

impl Edit {
    /// An editor script (root 0755) in the scratch directory.
    fn editor(&self, name: &str, body: &str) -> String {
        let p = self.env.scratch().join(name);
        write_mode(&p, format!("#!/bin/sh\n{body}\n").as_bytes(), 0o755);
        p.display().to_string()
    }

    fn run(&self, editor: &str, files: &[&str]) -> Out {
        let mut args = vec!["-e", "--"];
        args.extend_from_slice(files);
        self.env
            .bdexec("alice")
            .env("EDITOR", editor)
            .args(&args)
            .run()
    }

    fn app(&self) -> String {
        format!("{}/conf/app.conf", self.s)
    }

    fn content(&self) -> String {
        fs::read_to_string(self.app()).unwrap()
    }
}

fn blake3_of(b: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(b).to_hex())
}

#[test]
fn an_edit_is_written_back_as_the_target_and_recorded() {
    let Some(t) = setup("written_back") else {
        return;
    };
    let ed = t.editor("ed-new", "printf 'new\\n' > \"$1\"");
    let o = t.run(&ed, &[&t.app()]);
    o.expect_code(0, "edit");
    assert!(o.stderr.is_empty(), "{o}");
    assert_eq!(t.content(), "new\n");
    let m = fs::metadata(t.app()).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (0, 0, 0o640),
        "owner and mode kept"
    );
    let e = t.env.audit_events("edit");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["reason"], "edited");
    assert_eq!(e[0]["command"], t.app().as_str());
    assert_eq!(e[0]["runuser"], "root");
    assert_eq!(e[0]["before"], blake3_of(b"old\n").as_str());
    assert_eq!(e[0]["after"], blake3_of(b"new\n").as_str());
    // An editor that changes nothing: nothing written, recorded as such.
    let o = t.run("/bin/true", &[&t.app()]);
    o.expect_code(0, "unchanged");
    let e = t.env.audit_events("edit");
    assert_eq!(e[1]["reason"], "unchanged");
    assert_eq!(e[1]["before"], e[1]["after"]);
    // The editor's copies are gone.
    t.env.assert_verify_ok("edit records verify");
    // -l lists the edit grant.
    let o = t.env.run_as_user("alice", &["-l"]);
    o.expect_code(0, "-l");
    assert!(
        o.stdout_str()
            .contains(&format!("    (root) auth=none edit {}/conf/*.conf", t.s)),
        "{o}"
    );
    assert!(
        t.env.audit_events("accept").is_empty(),
        "-e runs no command"
    );
}

#[test]
fn bad_paths_and_editors_are_refused() {
    let Some(t) = setup("bad_inputs") else {
        return;
    };
    let ed = t.editor("ed-new", "printf 'new\\n' > \"$1\"");
    let s = &t.s;
    for (file, what) in [
        (format!("{s}/conf/link.conf"), "symbolic link"),
        (format!("{s}/x.conf"), "writable by you"),
        (format!("{s}/alice/sub/f.conf"), "writable by you"),
        (format!("{s}/conf/../conf/app.conf"), ""),
        (format!("{s}/conf/./app.conf"), ""),
        ("/etc/passwd".to_string(), ""),
        (format!("{s}/conf/missing.conf"), ""),
    ] {
        let o = t.run(&ed, &[&file]);
        o.expect_refusal(1, &file);
        assert!(o.stderr_str().contains(what), "{file}: {what}\n{o}");
    }
    assert_eq!(t.content(), "old\n");
    assert_eq!(fs::read_to_string(format!("{s}/x.conf")).unwrap(), "old\n");
    assert_eq!(
        fs::read_to_string(format!("{s}/alice/sub/f.conf")).unwrap(),
        "old\n"
    );
    // CVE-2023-22809: files smuggled in after "--" in the editor.
    let marker = t.env.scratch().join("vi-ran");
    let vi = t.editor("vi", &format!("touch {}", marker.display()));
    for var in ["EDITOR", "VISUAL", "SUDO_EDITOR"] {
        let o = t
            .env
            .bdexec("alice")
            .env(var, format!("{vi} -- /etc/shadow"))
            .args(["-e", "--", &t.app()])
            .run();
        o.expect_refusal(1, var);
        assert!(o.stderr_str().contains("--"), "{o}");
    }
    assert!(!marker.exists(), "the editor never ran");
    // One file refused: none is edited.
    let o = t.run(&ed, &[&t.app(), &format!("{s}/conf/link.conf")]);
    o.expect_refusal(1, "one bad file of two");
    assert_eq!(t.content(), "old\n");
    // No rule for mallory; -e with a command option is a usage error.
    t.env
        .bdexec("mallory")
        .env("EDITOR", &ed)
        .args(["-e", "--", &t.app()])
        .run()
        .expect_refusal(1, "mallory");
    t.env
        .run_as_user("alice", &["-e", "-s", &t.app()])
        .expect_refusal(2, "-e -s");
    assert!(t.env.audit_events("edit").is_empty());
    assert!(!t.env.audit_events("reject").is_empty());
}

#[test]
fn a_decoy_edit_grant_is_listed_and_alerts() {
    let Some(t) = setup("decoy") else {
        return;
    };
    let s = &t.s;
    let policy = fs::read_to_string(t.env.policy_path()).unwrap();
    t.env.policy(&format!(
        "{policy}\n[[decoy]]\nname = \"shadow-edit\"\nusers = [\"alice\"]\nedit = [\"{s}/conf/secret.conf\"]\nauth = \"none\"\n"
    ));
    write_mode(&t.env.scratch().join("conf/secret.conf"), b"old\n", 0o640);
    let o = t.env.run_as_user("alice", &["-l"]);
    assert!(
        o.stdout_str()
            .contains(&format!("    (root) auth=none edit {s}/conf/secret.conf")),
        "listed as a grant\n{o}"
    );
    let ed = t.editor("ed-new", "printf 'new\\n' > \"$1\"");
    let o = t.run(&ed, &[&format!("{s}/conf/secret.conf")]);
    o.expect_refusal(1, "decoy edit");
    assert!(o.stderr_str().contains("may not edit"), "{o}");
    let alerts = t.env.audit_events("alert");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rule"], "shadow-edit");
    assert_eq!(
        fs::read_to_string(t.env.scratch().join("conf/secret.conf")).unwrap(),
        "old\n"
    );
}

#[test]
fn racing_editors_do_not_win() {
    let Some(t) = setup("races") else {
        return;
    };
    // The copy swapped for a symbolic link to /etc/shadow.
    let swap = t.editor("ed-swap", "rm -f \"$1\" && ln -s /etc/shadow \"$1\"");
    let o = t.run(&swap, &[&t.app()]);
    o.expect_refusal(1, "copy swapped for a symlink");
    assert!(o.stderr_str().contains("symbolic link"), "{o}");
    assert_eq!(t.content(), "old\n");
    // An editor that fails: nothing written back.
    let fail = t.editor("ed-fail", "printf 'new\\n' > \"$1\"; exit 3");
    let o = t.run(&fail, &[&t.app()]);
    o.expect_refusal(1, "editor failed");
    assert!(o.stderr_str().contains("status 3"), "{o}");
    assert_eq!(t.content(), "old\n");
    // The original changed while the editor ran: not overwritten, the
    // copy kept and named.
    let ready = t.env.scratch().join("ready");
    let go = t.env.scratch().join("go");
    let slow = t.editor(
        "ed-slow",
        &format!(
            "printf 'mine\\n' > \"$1\"; touch {r}; while [ ! -e {g} ]; do sleep 0.05; done",
            r = ready.display(),
            g = go.display()
        ),
    );
    fs::set_permissions(t.env.scratch(), fs::Permissions::from_mode(0o1777)).unwrap();
    let run = t
        .env
        .bdexec("alice")
        .env("EDITOR", &slow)
        .args(["-e", "--", &t.app()])
        .spawn();
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the editor never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    fs::write(t.app(), "theirs\n").unwrap();
    fs::write(&go, "").unwrap();
    let o = run.wait();
    o.expect_refusal(1, "original changed meanwhile");
    assert!(o.stderr_str().contains("changed while you edited"), "{o}");
    assert_eq!(t.content(), "theirs\n", "the other change stays");
    let kept = o
        .stderr_str()
        .split("kept in ")
        .nth(1)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    assert!(Path::new(&kept).exists(), "the copy is kept: {kept:?}\n{o}");
    assert_eq!(fs::read_to_string(&kept).unwrap(), "mine\n");
    let _ = fs::remove_file(&kept);
    assert!(t.env.audit_events("edit").is_empty());
}

#[test]
fn another_target_edits_with_its_own_rights() {
    let Some(t) = setup("other_target") else {
        return;
    };
    let s = &t.s;
    // bob's directory and file; a file of root's in it.
    let dir = t.env.scratch().join("bob");
    mkdir_mode(&dir, 0o755);
    write_mode(&dir.join("b.conf"), b"old\n", 0o600);
    write_mode(&dir.join("root.conf"), b"old\n", 0o644);
    for p in [dir.clone(), dir.join("b.conf")] {
        std::os::unix::fs::chown(&p, Some(BOB.uid), Some(BOB.gid)).unwrap();
    }
    t.env.policy(&format!(
        "version = 1\n[[rule]]\nname = \"bob-edit\"\nusers = [\"alice\"]\nrun_as = [\"bob\"]\nedit = [\"{s}/bob/*.conf\"]\nauth = \"none\"\n"
    ));
    let ed = t.editor("ed-new", "printf 'new\\n' > \"$1\"");
    let b = format!("{s}/bob/b.conf");
    t.env
        .bdexec("alice")
        .env("EDITOR", &ed)
        .args(["-e", "-u", "bob", "--", &b])
        .run()
        .expect_code(0, "-e -u bob");
    assert_eq!(fs::read_to_string(&b).unwrap(), "new\n");
    let m = fs::metadata(&b).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (BOB.uid, BOB.gid, 0o600)
    );
    assert_eq!(t.env.audit_events("edit")[0]["runuser"], "bob");
    // A file bob does not own, and a target the rule does not allow.
    let o = t
        .env
        .bdexec("alice")
        .env("EDITOR", &ed)
        .args(["-e", "-u", "bob", "--", &format!("{s}/bob/root.conf")])
        .run();
    o.expect_refusal(1, "not the target's file");
    assert!(o.stderr_str().contains("not by the target"), "{o}");
    t.env
        .bdexec("alice")
        .env("EDITOR", &ed)
        .args(["-e", "--", &b])
        .run()
        .expect_refusal(1, "as root: not allowed");
}

/// Ctrl-Z in the editor stops the job, as sudoedit: bdexec stops itself
/// with the editor, so the caller's bash says "Stopped"; `fg` continues
/// the editor, which changes the file; the write-back and the edit
/// record happen as usual. An interactive bash on a real pty owned by
/// alice (tests/common/pty_driver.rs, mode `bash`).
#[test]
fn ctrl_z_in_the_editor_stops_the_job() {
    let Some(t) = setup("ctrl_z") else {
        return;
    };
    // The driver presses Ctrl-Z once "started" shows, `fg` once bash
    // says "Stopped", and waits for "finished".
    let ed = t.editor(
        "ed-slow",
        "echo started; sleep 1.5; printf 'new\\n' > \"$1\"; echo finished",
    );
    let out = common::pty_driver::drive_call(&t.env, "bash", &["-e", "--", &t.app()])
        .env("EDITOR", &ed)
        .run();
    let s = out.stdout_str();
    assert!(s.contains("Stopped"), "bash saw the job stop\n{s}");
    assert!(s.contains("finished") && s.contains("rc=0"), "{s}");
    assert_eq!(t.content(), "new\n");
    let e = t.env.audit_events("edit");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["reason"], "edited");
    assert_eq!(e[0]["before"], blake3_of(b"old\n").as_str());
    assert_eq!(e[0]["after"], blake3_of(b"new\n").as_str());
}
