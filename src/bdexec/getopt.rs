//! bdexec's options read without clap, for the command lines callers
//! actually type (`bdexec -u USER -n -- CMD ARGS`).
//!
//! clap stays the definition of bdexec's command line: its help,
//! version and error messages, and every form this reader does not take
//! on. [`read`] answers only where it is sure to give what clap would
//! ([`BdexecArgs::parse_strict`] on [`super::cli::getopt_args`]'s
//! rewrite); anything else (help, version, an unknown or repeated
//! option, a missing or empty value, `-s` with `-i`, `-E` anywhere but
//! last in a cluster, arguments that are not UTF-8 before the command)
//! is `None`, and clap reads the whole line. A differential test below
//! holds the two readers to the same result over generated command
//! lines.
//!
//! Why: clap's parse was 2.5% of bdexec's samples, most of it the first
//! touch of its code and tables (docs/performance.md, session 12).
#![forbid(unsafe_code)]

use super::cli::{BdexecArgs, Daily, DriverArgs, Mode, getopt_args};
use std::ffi::OsString;
use std::path::PathBuf;

impl BdexecArgs {
    /// Parse like getopt(3) (see [`getopt_args`]), then check the
    /// combination against the synopsis ([`BdexecArgs::mode`]). Errors
    /// are clap's (help and version are clap "errors" too). The lines
    /// callers usually type are read by `getopt::read`, to the same result;
    /// clap reads the rest. (Here, not in cli.rs, so that the two
    /// modules depend one way: this reader on clap's definition.)
    pub fn parse_strict(args: &[OsString]) -> Result<Result<(Self, Mode), String>, clap::Error> {
        let parsed = match read(args) {
            Some(p) => p,
            None => <Self as clap::Parser>::try_parse_from(getopt_args(args))?,
        };
        Ok(parsed.mode().map(|m| (parsed, m)))
    }
}

/// A flag: a short letter, its long name, and the field it sets.
struct Flag {
    short: u8,
    long: &'static str,
    field: fn(&mut BdexecArgs) -> &mut bool,
}

const FLAGS: &[Flag] = &[
    flag(b'n', "non-interactive", |a| &mut a.non_interactive),
    flag(b'l', "list", |a| &mut a.list),
    flag(b'k', "reset-timestamp", |a| &mut a.reset_timestamp),
    flag(b'v', "validate", |a| &mut a.daily.validate),
    flag(b'K', "remove-timestamp", |a| &mut a.daily.remove_timestamps),
    flag(b's', "shell", |a| &mut a.daily.shell),
    flag(b'i', "login", |a| &mut a.daily.login),
    flag(b'e', "edit", |a| &mut a.daily.edit),
    flag(b'H', "set-home", |a| &mut a.driver.set_home),
    flag(b'S', "stdin", |a| &mut a.driver.stdin),
    flag(b'A', "askpass", |a| &mut a.driver.askpass),
    flag(b'P', "preserve-groups", |a| &mut a.driver.preserve_groups),
    flag(b'b', "background", |a| &mut a.driver.background),
];

const fn flag(short: u8, long: &'static str, field: fn(&mut BdexecArgs) -> &mut bool) -> Flag {
    Flag { short, long, field }
}

/// An option with a value. `short` is 0 for `--token`, which has none.
struct Valued {
    short: u8,
    long: &'static str,
}

const VALUED: &[Valued] = &[
    Valued {
        short: b'u',
        long: "user",
    },
    Valued {
        short: b'U',
        long: "other-user",
    },
    Valued {
        short: b'g',
        long: "group",
    },
    Valued {
        short: b'D',
        long: "chdir",
    },
    Valued {
        short: b'p',
        long: "prompt",
    },
    Valued {
        short: b'T',
        long: "command-timeout",
    },
    Valued {
        short: 0,
        long: "token",
    },
];

fn empty() -> BdexecArgs {
    BdexecArgs {
        user: None,
        non_interactive: false,
        list: false,
        reset_timestamp: false,
        token: Vec::new(),
        daily: Daily::default(),
        driver: DriverArgs::default(),
        command: Vec::new(),
    }
}

/// Set a flag once; a repeat is clap's error to word.
fn set(a: &mut BdexecArgs, f: &Flag) -> Option<()> {
    let slot = (f.field)(a);
    if *slot {
        return None;
    }
    *slot = true;
    Some(())
}

/// Store an option's value once (`--token` repeats); an empty value,
/// a repeat or a value clap would read as text that is not UTF-8 is
/// left to clap.
fn store(a: &mut BdexecArgs, long: &str, v: OsString) -> Option<()> {
    if v.is_empty() {
        return None;
    }
    fn once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(v);
        Some(())
    }
    match long {
        "user" => once(&mut a.user, v),
        "other-user" => once(&mut a.daily.other_user, v),
        "group" => once(&mut a.daily.group, v),
        "chdir" => once(&mut a.daily.chdir, PathBuf::from(v)),
        "prompt" => once(&mut a.driver.prompt, v),
        "command-timeout" => once(&mut a.driver.command_timeout, v.into_string().ok()?),
        "token" => {
            a.token.push(PathBuf::from(v));
            Some(())
        }
        _ => None,
    }
}

/// `-E` / `--preserve-env[=VAR,...]`, once.
fn preserve_env(a: &mut BdexecArgs, names: Option<&str>) -> Option<()> {
    if a.driver.preserve_env.is_some() {
        return None;
    }
    let list = match names {
        None => Vec::new(),
        Some(s) => {
            let parts: Vec<String> = s.split(',').map(str::to_owned).collect();
            if parts.iter().any(String::is_empty) {
                return None;
            }
            parts
        }
    };
    a.driver.preserve_env = Some(list);
    Some(())
}

/// The command line as clap would read it, or `None` where this reader
/// leaves it to clap (see the module comment).
pub fn read(args: &[OsString]) -> Option<BdexecArgs> {
    let mut a = empty();
    let mut i = 1;
    while let Some(arg) = args.get(i) {
        i += 1;
        let bytes = arg.as_encoded_bytes();
        if bytes == b"--" {
            a.command = args[i..].to_vec();
            break;
        }
        if bytes == b"-" || bytes.first() != Some(&b'-') {
            a.command = args[i - 1..].to_vec();
            break;
        }
        let s = arg.to_str()?;
        if let Some(long) = s.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            if name == "preserve-env" {
                preserve_env(&mut a, inline)?;
            } else if let Some(f) = FLAGS.iter().find(|f| f.long == name) {
                if inline.is_some() {
                    return None;
                }
                set(&mut a, f)?;
            } else if VALUED.iter().any(|v| v.long == name) {
                let value = match inline {
                    Some(v) => OsString::from(v),
                    None => {
                        let v = args.get(i)?.clone();
                        i += 1;
                        v
                    }
                };
                store(&mut a, name, value)?;
            } else {
                return None;
            }
            continue;
        }
        // A cluster of short options: a letter that takes a value takes
        // the rest of the cluster, or else the next argument.
        let cluster = &s.as_bytes()[1..];
        for (at, &c) in cluster.iter().enumerate() {
            if c == b'E' {
                if at + 1 != cluster.len() {
                    return None;
                }
                preserve_env(&mut a, None)?;
            } else if let Some(f) = FLAGS.iter().find(|f| f.short == c) {
                set(&mut a, f)?;
            } else if let Some(v) = VALUED.iter().find(|v| v.short == c && c != 0) {
                let rest = &s[2 + at..];
                let value = if rest.is_empty() {
                    let v = args.get(i)?.clone();
                    i += 1;
                    v
                } else {
                    OsString::from(rest)
                };
                store(&mut a, v.long, value)?;
                break;
            } else {
                return None;
            }
        }
    }
    let d = &a.daily;
    if (d.shell && d.login) || (a.driver.askpass && a.driver.stdin) {
        return None;
    }
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn clap(args: &[OsString]) -> Option<BdexecArgs> {
        <BdexecArgs as clap::Parser>::try_parse_from(getopt_args(args)).ok()
    }

    /// The forms callers type are read here, not by clap.
    #[test]
    fn common_lines_are_read_without_clap() {
        for v in [
            &["bdexec", "id"][..],
            &["bdexec", "-n", "id"],
            &["bdexec", "-u", "root", "--", "/usr/bin/true"],
            &["bdexec", "-nuroot", "id", "-u"],
            &["bdexec", "--user=postgres", "-g", "ops", "psql"],
            &["bdexec", "-HSn", "-p", "pw:", "id"],
            &["bdexec", "-E", "env"],
            &["bdexec", "--preserve-env=A,B", "env"],
            &["bdexec", "-l"],
            &["bdexec", "-i"],
            &["bdexec", "-e", "/etc/motd"],
            &["bdexec", "--token", "a", "--token=b", "id"],
            &["bdexec", "-T", "5m", "-b", "sleep", "1"],
        ] {
            let a = os(v);
            let fast = read(&a).unwrap_or_else(|| panic!("not read: {v:?}"));
            let slow = clap(&a).unwrap_or_else(|| panic!("clap refused: {v:?}"));
            assert_eq!(fast, slow, "{v:?}");
        }
    }

    #[test]
    fn left_to_clap() {
        for v in [
            &["bdexec", "-h"][..],
            &["bdexec", "--help"],
            &["bdexec", "-V"],
            &["bdexec", "--version"],
            &["bdexec", "-x", "id"],
            &["bdexec", "-n", "-n", "id"],
            &["bdexec", "-u", "a", "-u", "b", "id"],
            &["bdexec", "-u"],
            &["bdexec", "-u", "", "id"],
            &["bdexec", "-s", "-i"],
            &["bdexec", "-S", "-A", "id"],
            &["bdexec", "-En", "id"],
            &["bdexec", "--preserve-env=", "id"],
            &["bdexec", "--preserve-env=A,,B", "id"],
            &["bdexec", "--list=yes"],
            &["bdexec", "--frobnicate", "id"],
        ] {
            assert!(read(&os(v)).is_none(), "{v:?}");
        }
        // An option that is not UTF-8 is clap's to judge; a command that
        // is not UTF-8 is the command.
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(b"-u\xff".to_vec());
        assert!(read(&[OsString::from("bdexec"), bad]).is_none());
        let cmd = OsString::from_vec(b"/bin/\xff".to_vec());
        let a = vec![OsString::from("bdexec"), cmd.clone(), "-uroot".into()];
        let r = read(&a).expect("read");
        assert_eq!(r.command, vec![cmd, OsString::from("-uroot")]);
        assert_eq!(clap(&a), Some(r));
    }

    /// Generated command lines: wherever this reader answers, clap
    /// answers the same.
    #[test]
    fn agrees_with_clap() {
        const TOKENS: &[&str] = &[
            "-n",
            "-u",
            "root",
            "-uroot",
            "--user",
            "--user=x",
            "-l",
            "-k",
            "-v",
            "-K",
            "-s",
            "-i",
            "-e",
            "-H",
            "-S",
            "-A",
            "-p",
            "pw",
            "-E",
            "--preserve-env",
            "--preserve-env=A,B",
            "-P",
            "-T",
            "5",
            "-b",
            "-g",
            "ops",
            "-D",
            "/srv",
            "--token",
            "f",
            "-U",
            "bob",
            "--",
            "id",
            "-x",
            "-",
            "-h",
            "--help",
            "-nE",
            "-Su",
            "=x",
            "-HSE",
            "--list",
            "-Enu",
            "-u=root",
            "--stdin",
            "--command-timeout",
            "30s",
            "",
            "-nl",
            "--token=g",
            "--chdir",
            "-gops",
            "--other-user=b",
            "--login",
            "--shell",
            "-ni",
            "-V",
            "--edit",
            "-Tx",
            "--prompt=%u",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut read_here, mut total) = (0, 0);
        for _ in 0..60_000 {
            let len = (next() % 7) as usize;
            let mut v = vec![OsString::from("bdexec")];
            for _ in 0..len {
                v.push(TOKENS[(next() % TOKENS.len() as u64) as usize].into());
            }
            total += 1;
            if let Some(fast) = read(&v) {
                read_here += 1;
                assert_eq!(Some(fast), clap(&v), "{v:?}");
            }
        }
        // The reader must take a real share, or the test proves nothing.
        assert!(read_here * 4 > total, "{read_here} of {total}");
    }
}
