use super::*;
use crate::policy::index::for_caller;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

const MAIN: &str = r##"version = 1

[defaults]
umask = "022"

[sandbox.web.landlock]
read = ["/usr"]

[[rule]]
name = "alice-ls"
users = ["alice"]
commands = ["/bin/ls *"]
auth = "none"

# a comment between rules
[[rule]]
name = "ops-deny-sh"
groups = ["ops"]
action = "deny"
commands = ["/bin/sh *"]

[[decoy]]
name = "bait"
users = ["alice"]
commands = ["/usr/bin/secret"]

[[rule]]
  name = "uid-1001"
  users = ["#1001"]
  commands = [
    "/usr/bin/id",
    "/usr/bin/true x",
  ]
  sandbox = "web"
  break_glass = true
"##;

const DROPIN: &str = r##"
[[rule]]
name = "gid-50"
groups = ["#50"]
commands = ["/usr/bin/id"]
run_as = ["www-data"]
"##;

fn sources() -> Sources {
    vec![
        (
            PathBuf::from("/etc/belladonna/policy.toml"),
            MAIN.to_string(),
        ),
        (
            PathBuf::from("/etc/belladonna/policy.d/10-a.toml"),
            DROPIN.to_string(),
        ),
    ]
}

fn alice() -> Caller {
    Caller {
        uid: 1000,
        gid: 1000,
        name: Some("alice".into()),
        gids: vec![1000, 50],
        group_names: vec!["alice".into(), "ops".into()],
    }
}

fn bob() -> Caller {
    Caller {
        uid: 1001,
        gid: 1001,
        name: Some("bob".into()),
        gids: vec![1001],
        group_names: vec!["bob".into()],
    }
}

fn names(p: &Policy) -> Vec<&str> {
    p.rules.iter().map(|r| r.name.as_str()).collect()
}

fn full() -> Loaded {
    parse_sources(&sources()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn pieces_give_back_the_policy_and_the_callers_rules() {
    let full = full();
    let blob = compile(&sources(), &full, &[7; 32]);
    let c = Compiled::parse(blob).expect("valid blob");
    assert!(c.indexed && c.names_groups);
    assert_eq!(c.rules(), 4);
    let all: Vec<u32> = (0..4).collect();
    // Everything, origins (line numbers) included.
    assert_eq!(c.assemble(&all).unwrap(), full.policy);
    for caller in [alice(), bob()] {
        let ids = c.candidates(&caller);
        let sub = c.assemble(&ids).unwrap();
        // The break-glass names are those of the rules present (all that
        // `is_break_glass` is ever asked about).
        let mut want = for_caller(&full.policy, &caller);
        let present: Vec<String> = want.rules.iter().map(|r| r.name.clone()).collect();
        want.incident.break_glass.retain(|n| present.contains(n));
        assert_eq!(sub, want);
    }
    let a = c.assemble(&c.candidates(&alice())).unwrap();
    assert_eq!(names(&a), ["alice-ls", "ops-deny-sh", "gid-50"]);
    // The rest of the policy is all there: defaults, sandboxes, decoys.
    assert_eq!(a.defaults, full.policy.defaults);
    assert_eq!(a.sandboxes, full.policy.sandboxes);
    assert_eq!(a.incident.decoy_rules, full.policy.incident.decoy_rules);
    let b = c.assemble(&c.candidates(&bob())).unwrap();
    assert_eq!(names(&b), ["uid-1001"]);
    assert!(b.incident.is_break_glass("uid-1001"));
    assert_eq!(b.rules[0].origin.line, 27);
    assert_eq!(
        b.rules[0].origin.file,
        Path::new("/etc/belladonna/policy.toml")
    );
}

#[test]
fn a_policy_that_cannot_be_cut_is_parsed_whole() {
    // A line starting with `[` inside a rule: the cut is not trusted
    // (the pieces do not give back the policy), so nothing is indexed.
    let main = "version = 1\n[[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\n[\"/bin/ls\"][0],\n]\n";
    let src: Sources = vec![(PathBuf::from("/p.toml"), main.into())];
    let Ok(full) = parse_sources(&src) else {
        // Not even TOML: then there is nothing to cut either.
        return;
    };
    let c = Compiled::parse(compile(&src, &full, &[1; 32])).unwrap();
    assert!(!c.indexed);
}

#[test]
fn a_multiline_string_with_a_header_is_not_cut_wrongly() {
    // A fake `[[rule]]` inside a multi-line string of a rule: cut there,
    // the pieces would not give back the policy: not indexed.
    let main = "version = 1\n[[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/bin/ls\"]\nsetenv = { X = \"\"\"\n[[rule]]\nname = \"evil\"\n\"\"\" }\n";
    let src: Sources = vec![(PathBuf::from("/p.toml"), main.into())];
    if let Ok(full) = parse_sources(&src) {
        let c = Compiled::parse(compile(&src, &full, &[1; 32])).unwrap();
        if c.indexed {
            let p = c.assemble(&c.candidates(&alice())).unwrap();
            assert_eq!(p, full.policy);
        }
    }
}

/// A private directory for the state (the cache's directory).
fn state_dir(tag: &str) -> (PathBuf, std::os::fd::OwnedFd) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let d = base.join(format!("cache-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let fd = std::fs::File::open(&d).unwrap();
    (d, fd.into())
}

fn run(dir: &std::os::fd::OwnedFd, caller: &mut Caller) -> Cached {
    load(&sources(), Some(dir.as_fd()), caller, |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn rebuilt_when_missing_then_hit() {
    if !root() {
        eprintln!("SKIPPED (needs root: the cache must be root's)");
        return;
    }
    let (d, fd) = state_dir("hit");
    let first = run(&fd, &mut alice());
    assert_eq!(first.outcome, Outcome::Rebuilt(Stale::Missing));
    assert!(!first.partial);
    let m = std::fs::metadata(d.join(CACHE_NAME)).unwrap();
    assert_eq!((m.uid(), m.permissions().mode() & 0o7777), (0, 0o600));
    let second = run(&fd, &mut alice());
    assert_eq!(second.outcome, Outcome::Hit);
    assert!(second.partial);
    assert_eq!(second.loaded.hash, first.loaded.hash);
    assert_eq!(second.loaded.raw, first.loaded.raw);
    assert_eq!(
        names(&second.loaded.policy),
        ["alice-ls", "ops-deny-sh", "gid-50"]
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn corrupt_truncated_stale_and_untrusted_caches_are_rebuilt() {
    if !root() {
        eprintln!("SKIPPED (needs root: the cache must be root's)");
        return;
    }
    let (d, fd) = state_dir("bad");
    let file = d.join(CACHE_NAME);
    run(&fd, &mut alice());
    let good = std::fs::read(&file).unwrap();
    let put = |bytes: &[u8]| {
        let _ = std::fs::remove_file(&file);
        std::fs::write(&file, bytes).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    // One flipped byte anywhere (here: in a rule's text).
    let mut flipped = good.clone();
    let at = good.len() / 2;
    flipped[at] ^= 0x20;
    put(&flipped);
    assert_eq!(
        run(&fd, &mut alice()).outcome,
        Outcome::Rebuilt(Stale::Corrupt)
    );
    assert_eq!(std::fs::read(&file).unwrap(), good, "rewritten");
    // Truncated.
    put(&good[..good.len() - 7]);
    assert_eq!(
        run(&fd, &mut alice()).outcome,
        Outcome::Rebuilt(Stale::Corrupt)
    );
    put(&good[..10]);
    assert_eq!(
        run(&fd, &mut alice()).outcome,
        Outcome::Rebuilt(Stale::Corrupt)
    );
    put(b"");
    assert_eq!(
        run(&fd, &mut alice()).outcome,
        Outcome::Rebuilt(Stale::Corrupt)
    );
    // Another policy's (stale key): a valid blob of other sources.
    let other: Sources = vec![(
        PathBuf::from("/etc/belladonna/policy.toml"),
        "version = 1\n[[rule]]\nname = \"x\"\nusers = [\"alice\"]\ncommands = [\"ALL\"]\n".into(),
    )];
    let ol = parse_sources(&other).unwrap();
    put(&compile(
        &other,
        &ol,
        &cache_key(&ol.raw, &build_identity()),
    ));
    let c = run(&fd, &mut alice());
    assert_eq!(c.outcome, Outcome::Rebuilt(Stale::Key));
    assert_eq!(names(&c.loaded.policy).len(), 4);
    // The right key but written by someone else, or readable by others:
    // ignored (never read) and replaced.
    put(&good);
    std::os::unix::fs::chown(&file, Some(61000), None).unwrap();
    assert!(matches!(
        run(&fd, &mut alice()).outcome,
        Outcome::Rebuilt(Stale::Untrusted(_))
    ));
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), 0);
    assert_eq!(run(&fd, &mut alice()).outcome, Outcome::Hit);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        run(&fd, &mut alice()).outcome,
        Outcome::Rebuilt(Stale::Untrusted(_))
    ));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    // A second hard link: ignored too.
    let link = d.join("other-name");
    std::fs::hard_link(&file, &link).unwrap();
    assert!(matches!(
        run(&fd, &mut alice()).outcome,
        Outcome::Rebuilt(Stale::Untrusted(_))
    ));
    assert_eq!(run(&fd, &mut alice()).outcome, Outcome::Hit);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_tampered_index_that_parses_is_still_checked() {
    // A blob whose checksum was recomputed after a change (what only
    // root could write): the structure checks still hold the line.
    let full = full();
    let mut blob = compile(&sources(), &full, &[7; 32]);
    let n = blob.len() - 32;
    blob.truncate(n);
    // Point the last id of the last key past the chunks.
    let at = blob.len() - 4;
    blob[at..].copy_from_slice(&999u32.to_le_bytes());
    let sum = blake3::hash(&blob);
    blob.extend_from_slice(sum.as_bytes());
    let c = Compiled::parse(blob).expect("well-formed");
    let ids = c.candidates(&alice());
    assert!(ids.contains(&999));
    assert!(
        c.assemble(&ids).is_err(),
        "a missing rule is an error, not skipped"
    );
}

#[test]
fn a_rules_own_subtables_stay_with_it() {
    let main = "version = 1\n[[rule]]\nname = \"a\"\nusers = [\"alice\"]\n[[rule.commands]]\ncmd = \"/bin/ls\"\n[[rule]]\nname = \"b\"\nusers = [\"bob\"]\ncommands = [\"/bin/ls\"]\n";
    let src: Sources = vec![(PathBuf::from("/p.toml"), main.into())];
    let full = parse_sources(&src).unwrap_or_else(|e| panic!("{e}"));
    let c = Compiled::parse(compile(&src, &full, &[1; 32])).unwrap();
    assert!(c.indexed);
    let p = c.assemble(&c.candidates(&alice())).unwrap();
    assert_eq!(names(&p), ["a"]);
    assert_eq!(p.rules[0], full.policy.rules[0]);
}

/// A blob whose piece table was changed and its checksum recomputed
/// (what only root could write): every fault is an error, so a full
/// parse, never a rule skipped or a piece misread.
#[test]
fn a_tampered_piece_table_is_an_error_never_a_skipped_rule() {
    let blob = compile(&sources(), &full(), &[7; 32]);
    let c = Compiled::parse(blob.clone()).expect("valid");
    let all: Vec<u32> = (0..c.rules() as u32).collect();
    assert_eq!(c.assemble(&all).unwrap(), full().policy);
    let heap_len = (c.heap.1 - c.heap.0) as u32;
    let table = c.chunks.0;
    let forged = |field: usize, value: u32| {
        let mut b = blob.clone();
        b.truncate(b.len() - 32);
        let at = table + 4 * field;
        b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        let sum = blake3::hash(&b);
        b.extend_from_slice(sum.as_bytes());
        Compiled::parse(b).expect("well-formed")
    };
    let word = |at: usize| u32::from_le_bytes(blob[at..at + 4].try_into().unwrap());
    let (start0, end0) = (word(table + 4), word(table + 8));
    for (what, c) in [
        ("half a piece", forged(2, (start0 + end0) / 2)),
        ("a piece past the heap", forged(2, heap_len + 1)),
        ("a piece that ends before it starts", forged(1, end0 + 1)),
        ("the first rule in the drop-in's place", forged(0, 1)),
        ("a file that does not exist", forged(0, 9)),
    ] {
        assert!(c.assemble(&all).is_err(), "{what}: an error");
    }
    // The caller's own rules only: a fault in another rule's entry is not
    // read at all, and the caller's rules still come back whole.
    let c = forged(2, heap_len + 1);
    let ids = c.candidates(&bob());
    assert!(!ids.contains(&0));
    assert_eq!(
        names(&c.assemble(&ids).unwrap()),
        names(&for_caller(&full().policy, &bob()))
    );
}

#[test]
fn stamps_are_stored_compared_and_replaced() {
    use crate::policy::stamp::{encode_all, sample};
    let full = full();
    let stamp = |ctime: i128| sample(ctime, 0xEF53);
    let plain = Compiled::parse(compile(&sources(), &full, &[7; 32])).expect("valid");
    assert!(!plain.has_stamps());
    assert!(!plain.stamped_by(&[]), "no stamps never match");
    let (a, b) = (encode_all(&[stamp(10)]), encode_all(&[stamp(11)]));
    assert!(!plain.stamped_by(&a));
    let c = Compiled::parse(compile_stamped(
        &sources(),
        &full,
        &[7; 32],
        Some(&[stamp(10)]),
    ))
    .expect("valid");
    assert!(c.has_stamps() && c.stamped_by(&a) && !c.stamped_by(&b));
    // Restamped: the other stamps, everything else as it was.
    let d = Compiled::parse(c.restamped(&b)).expect("a restamped blob is valid");
    assert!(d.stamped_by(&b) && !d.stamped_by(&a));
    assert_eq!((d.key, d.hash, d.raw), (c.key, c.hash, c.raw));
    assert_eq!(d.candidates(&alice()), c.candidates(&alice()));
    let ids = d.candidates(&alice());
    assert_eq!(d.assemble(&ids).unwrap(), c.assemble(&ids).unwrap());
    // The stamps are under the checksum.
    let mut blob = c.restamped(&b);
    let at = blob
        .windows(b.len())
        .position(|w| w == b.as_slice())
        .unwrap();
    blob[at + 4] ^= 1;
    assert!(
        Compiled::parse(blob).is_none(),
        "a flipped stamp byte is corrupt"
    );
}

/// Sources with `n` more rules than [`sources`]: a blob over
/// [`MEMO_MIN_BYTES`] for n in the thousands.
fn big_sources(n: usize) -> Sources {
    let mut main = MAIN.to_string();
    for i in 0..n {
        main.push_str(&format!(
            "\n[[rule]]\nname = \"bulk-{i}\"\nusers = [\"bulk{i}\"]\ncommands = [\"/usr/bin/id\"]\n"
        ));
    }
    let mut s = sources();
    s[0].1 = main;
    s
}

#[test]
fn a_large_blob_is_hashed_once_then_vouched_for_by_its_memo() {
    if !root() {
        eprintln!("SKIPPED (needs root: the cache and its memo must be root's)");
        return;
    }
    let (d, fd) = state_dir("memo");
    let (file, memo) = (d.join(CACHE_NAME), d.join(VERIFIED_NAME));
    let src = big_sources(3000);
    let big = parse_sources(&src).unwrap_or_else(|e| panic!("{e}"));
    let good = compile(&src, &big, &[7; 32]);
    assert!(good.len() >= MEMO_MIN_BYTES, "blob of {} bytes", good.len());
    let put = |bytes: &[u8]| {
        let _ = std::fs::remove_file(&file);
        std::fs::write(&file, bytes).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    // `later`: a moment at which the file just written is settled.
    let later = || stamp::now() + stamp::MARGIN_NS + 1_000_000_000;
    let stamp_now = || {
        let st = nix::sys::stat::stat(&file).unwrap();
        blob_stamp(fd.as_fd(), &st).unwrap()
    };
    put(&good);
    // Not settled yet: hashed, no memo.
    assert!(read_at(fd.as_fd(), stamp::now()).is_ok());
    assert!(!memo.exists(), "a memo for a blob that is not settled");
    // Settled: hashed, and the memo written (root 0600).
    assert!(read_at(fd.as_fd(), later()).is_ok());
    let m = std::fs::metadata(&memo).expect("memo written");
    assert_eq!((m.uid(), m.permissions().mode() & 0o7777), (0, 0o600));
    let sum = &good[good.len() - 32..];
    assert_eq!(std::fs::read(&memo).unwrap(), memo_bytes(&stamp_now(), sum));

    // A flipped byte (a new file: another stamp): the memo does not
    // vouch for it, the hash finds it.
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x20;
    put(&flipped);
    assert!(matches!(read_at(fd.as_fd(), later()), Err(Stale::Corrupt)));
    // A memo made for exactly this file and checksum is believed: the
    // hash is skipped (this is what the memo saves).
    let forged = memo_bytes(&stamp_now(), sum);
    std::fs::write(&memo, &forged).unwrap();
    assert!(
        read_at(fd.as_fd(), later()).is_ok(),
        "a matching memo skips the hash"
    );
    // ... but not before the blob is settled,
    assert!(matches!(
        read_at(fd.as_fd(), stamp::now()),
        Err(Stale::Corrupt)
    ));
    // nor once the file was touched in any way (its ctime moves),
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(read_at(fd.as_fd(), later()), Err(Stale::Corrupt)));
    // nor when the memo names another checksum, is damaged or not root's 0600.
    let again = memo_bytes(&stamp_now(), &[0; 32]);
    std::fs::write(&memo, &again).unwrap();
    assert!(matches!(read_at(fd.as_fd(), later()), Err(Stale::Corrupt)));
    let mut damaged = memo_bytes(&stamp_now(), sum);
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    std::fs::write(&memo, &damaged).unwrap();
    assert!(matches!(read_at(fd.as_fd(), later()), Err(Stale::Corrupt)));
    std::fs::write(&memo, memo_bytes(&stamp_now(), sum)).unwrap();
    std::fs::set_permissions(&memo, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(read_at(fd.as_fd(), later()), Err(Stale::Corrupt)));
    // The structure is checked even when vouched for: a truncated blob
    // with a memo for it is corrupt.
    put(&good[..good.len() - 40]);
    let cut = &good[good.len() - 72..good.len() - 40];
    std::fs::write(&memo, memo_bytes(&stamp_now(), cut)).unwrap();
    std::fs::set_permissions(&memo, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(read_at(fd.as_fd(), later()), Err(Stale::Corrupt)));
    // A small blob is hashed whatever the memo says.
    let small = compile(&sources(), &full(), &[7; 32]);
    let mut bad_small = small.clone();
    bad_small[small.len() / 2] ^= 0x20;
    put(&bad_small);
    let small_sum = &bad_small[bad_small.len() - 32..];
    std::fs::write(&memo, memo_bytes(&stamp_now(), small_sum)).unwrap();
    assert!(matches!(read_at(fd.as_fd(), later()), Err(Stale::Corrupt)));
    let _ = std::fs::remove_dir_all(d);
}

/// The fuzz target `policy_piece` starts from pieces in the current
/// binary form: each seed named for an example policy is that policy's
/// piece as [`piece_bytes`] writes it today (a change of the form must
/// rewrite the seeds with it), and every seed reads back to itself.
#[test]
fn the_fuzz_seeds_are_pieces_of_this_form() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = Path::new("/etc/belladonna/policy.toml");
    let mut named = 0;
    for e in std::fs::read_dir(root.join("fuzz/corpus/policy_piece")).unwrap() {
        let seed_path = e.unwrap().path();
        let seed = std::fs::read(&seed_path).unwrap();
        let (_, again) = piece_round_trip(&seed, file)
            .unwrap_or_else(|| panic!("{} is not a piece", seed_path.display()));
        assert_eq!(again, seed, "{}", seed_path.display());
        let stem = seed_path.file_name().unwrap().to_str().unwrap();
        let policy = root.join("policies").join(format!("{stem}.toml"));
        if let Ok(text) = std::fs::read_to_string(&policy) {
            named += 1;
            assert_eq!(
                piece_bytes(&text, file).unwrap(),
                seed,
                "rewrite {} with policy::cache::piece_bytes of {}",
                seed_path.display(),
                policy.display()
            );
        }
    }
    assert!(named >= 5, "the example policies' seeds are there");
}
