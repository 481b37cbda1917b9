//! bdexec's command line (clap). bdctl's lives in its wing
//! (`crate::bdctl::args`).
#![forbid(unsafe_code)]

use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;

/// bdexec: run a command as another user, as the policy allows.
#[derive(Debug, PartialEq, Parser)]
#[command(
    name = "bdexec",
    version,
    about = "Run a command as another user, as /etc/belladonna/policy.toml allows",
    disable_help_subcommand = true
)]
pub struct BdexecArgs {
    /// Run as USER (a name or #uid) instead of the rule's default target.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<OsString>,
    /// Non-interactive: never prompt; fail if authentication would need it.
    #[arg(short = 'n', long = "non-interactive")]
    pub non_interactive: bool,
    /// List the rules that apply to you (exit 1 when none allows anything);
    /// with a command: whether that exact command is allowed (exit 0/1).
    #[arg(short = 'l', long = "list")]
    pub list: bool,
    /// Forget your cached password timestamps (alone: just that; with a
    /// command: ask again and cache nothing).
    #[arg(short = 'k', long = "reset-timestamp")]
    pub reset_timestamp: bool,
    /// A signed approval token (repeat for M-of-N rules).
    #[arg(long = "token", value_name = "FILE")]
    pub token: Vec<PathBuf>,
    #[command(flatten)]
    pub daily: Daily,
    /// The sudo driver flags (issue 14, bdexec(8) "PROGRAMS THAT DRIVE
    /// SUDO"): see [`DriverArgs`].
    #[command(flatten)]
    pub driver: DriverArgs,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// The daily flags of sudo (issue 13): -U -v -K -g -D -s -i -e.
#[derive(Debug, Default, PartialEq, clap::Args)]
pub struct Daily {
    /// With -l: list (or check a command) for USER instead (root only).
    #[arg(short = 'U', long = "other-user", value_name = "USER")]
    pub other_user: Option<OsString>,
    /// Authenticate and refresh the timestamp; run nothing.
    #[arg(short = 'v', long = "validate")]
    pub validate: bool,
    /// Remove all of your timestamps (alone only).
    #[arg(short = 'K', long = "remove-timestamp")]
    pub remove_timestamps: bool,
    /// Run with GROUP (a name or #gid) as the primary group.
    #[arg(short = 'g', long = "group", value_name = "GROUP")]
    pub group: Option<OsString>,
    /// Change to DIR (as the target) before running the command.
    #[arg(short = 'D', long = "chdir", value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// Run the shell ($SHELL or yours); a command is passed to it with -c.
    #[arg(short = 's', long = "shell", conflicts_with = "login")]
    pub shell: bool,
    /// Run the target's login shell as a login shell, in its home.
    #[arg(short = 'i', long = "login")]
    pub login: bool,
    /// Edit FILE... safely as the target (sudoedit): the arguments are
    /// the files.
    #[arg(short = 'e', long = "edit")]
    pub edit: bool,
}

/// The flags of the programs that drive sudo (Ansible's become, scripts):
/// sudo's meaning unless bdexec(8) says otherwise.
#[derive(Debug, Default, PartialEq, clap::Args)]
pub struct DriverArgs {
    /// HOME is the target's (always so in bdexec; accepted for sudo's
    /// callers).
    #[arg(short = 'H', long = "set-home")]
    pub set_home: bool,
    /// Read the password as one line from standard input; the prompt goes
    /// to standard error.
    #[arg(short = 'S', long = "stdin")]
    pub stdin: bool,
    /// The password prompt (%u caller, %U target, %h host, %p whose
    /// password, %% a percent sign).
    #[arg(short = 'p', long = "prompt", value_name = "PROMPT")]
    pub prompt: Option<OsString>,
    /// Get the password from the helper named by BDEXEC_ASKPASS or
    /// SUDO_ASKPASS, run as you without privileges.
    #[arg(short = 'A', long = "askpass", conflicts_with = "stdin")]
    pub askpass: bool,
    /// Keep the caller's environment (`-E`), or only the variables named
    /// (`--preserve-env=VAR,...`), as far as the rule's `preserve_env`
    /// allows.
    #[arg(
        short = 'E',
        long = "preserve-env",
        value_name = "VAR,...",
        num_args = 0..=1,
        require_equals = true,
        value_delimiter = ','
    )]
    pub preserve_env: Option<Vec<String>>,
    /// Keep the caller's supplementary groups (rule: `caller_options =
    /// ["preserve_groups"]`).
    #[arg(short = 'P', long = "preserve-groups")]
    pub preserve_groups: bool,
    /// End the command after DURATION (`90`, `30s`, `5m`, `2h`), at most
    /// the rule's `timeout`; monitor mode.
    #[arg(short = 'T', long = "command-timeout", value_name = "DURATION")]
    pub command_timeout: Option<String>,
    /// Run the command in the background: bdexec returns 0 once it is
    /// started; monitor mode records its exit.
    #[arg(short = 'b', long = "background")]
    pub background: bool,
}

/// What a bdexec command line asks for, once it fits the synopsis
/// (bdexec(8), SYNOPSIS):
///
/// ```text
/// bdexec [-n] [-k] [-H] [-S | -A] [-p PROMPT] [-E | --preserve-env=VAR,...] [-P]
///        [-T DURATION] [-b] [-u USER] [-g GROUP] [-D DIR] [--token FILE]...
///        [--] COMMAND [ARG]...
/// bdexec -s|-i [-n] [-k] [-u USER] [-g GROUP] [-D DIR] [--] [COMMAND [ARG]...]
/// bdexec -l [-n] [-k] [-U USER]
/// bdexec -l [-n] [-U USER] [-u USER] [-g GROUP] [--] COMMAND [ARG]...
/// bdexec -e [-n] [-k] [-u USER] [--] FILE...
/// bdexec -v [-n] [-S | -A] [-p PROMPT]
/// bdexec -k | -K
/// bdexec -h | -V
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run COMMAND.
    Run,
    /// `-l`: list the caller's rules.
    List,
    /// `-l COMMAND`: whether that command is allowed.
    Check,
    /// `-v`: authenticate, refresh the timestamp, run nothing.
    Validate,
    /// `-K`: remove all of the caller's timestamps.
    RemoveAll,
    /// `-e FILE...`: edit the files as the target (sudoedit).
    Edit,
    /// `-k` alone: forget the caller's timestamps.
    ResetOnly,
}

impl BdexecArgs {
    /// The synopsis line this command line fits, or the one-line usage
    /// error: nothing given is ever silently ignored.
    pub fn mode(&self) -> Result<Mode, String> {
        let d = &self.daily;
        let with_command = !self.command.is_empty();
        let run_option = d.group.is_some() || d.chdir.is_some() || d.shell || d.login;
        if d.remove_timestamps {
            if with_command || run_option || self.list || d.validate || self.user.is_some() {
                return Err("-K takes no command and no other option".into());
            }
            if self.non_interactive || self.reset_timestamp || !self.token.is_empty() {
                return Err("-K takes no command and no other option".into());
            }
            if d.other_user.is_some() || d.edit || self.driver.given() {
                return Err("-K takes no command and no other option".into());
            }
            return Ok(Mode::RemoveAll);
        }
        if d.edit {
            let other = self.list || d.validate || run_option || !self.token.is_empty();
            if other || d.other_user.is_some() {
                return Err("-e takes only -n, -k and -u USER, then the files".into());
            }
            if !with_command {
                return Err("-e needs at least one file".into());
            }
            return Ok(Mode::Edit);
        }
        if d.other_user.is_some() && !self.list {
            return Err("-U USER is for -l only".into());
        }
        if d.validate {
            if with_command || run_option || self.list || self.user.is_some() {
                return Err("-v takes no command and no option but -n".into());
            }
            if self.reset_timestamp || !self.token.is_empty() {
                return Err("-v takes no command and no option but -n".into());
            }
            return Ok(Mode::Validate);
        }
        if self.list {
            if !self.token.is_empty() || d.chdir.is_some() || d.shell || d.login {
                return Err("-l takes no --token, -D, -s or -i".into());
            }
            if self.driver.given() {
                return Err(
                    "-l asks for no password and runs nothing: it takes no -H, -S, -p".into(),
                );
            }
            if with_command {
                if self.reset_timestamp {
                    return Err("-l COMMAND takes no -k".into());
                }
                return Ok(Mode::Check);
            }
            if self.user.is_some() || d.group.is_some() {
                return Err("-l lists your own rules; it takes no -u USER or -g GROUP".into());
            }
            return Ok(Mode::List);
        }
        if d.login && d.chdir.is_some() {
            return Err("-i runs in the target's home; it takes no -D".into());
        }
        if with_command || d.shell || d.login {
            self.driver.timeout_secs()?;
            return Ok(Mode::Run);
        }
        if self.reset_timestamp {
            if self.user.is_some()
                || self.non_interactive
                || !self.token.is_empty()
                || run_option
                || self.driver.given()
            {
                return Err("-k without a command takes no other option".into());
            }
            return Ok(Mode::ResetOnly);
        }
        Err("no command given (try `bdexec -h`)".into())
    }
}

impl DriverArgs {
    /// `-T`: seconds (> 0), from plain seconds or a policy duration
    /// (`30s`, `5m`, `2h`, `1d`).
    pub fn timeout_secs(&self) -> Result<Option<u64>, String> {
        let Some(t) = &self.command_timeout else {
            return Ok(None);
        };
        let secs = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            t.parse::<u64>().map_err(|e| e.to_string())
        } else {
            crate::policy::parse::parse_duration(t)
        };
        match secs {
            Ok(0) => Err("-T: the timeout must be longer than 0".into()),
            Ok(n) => Ok(Some(n)),
            Err(e) => Err(format!(
                "-T {:?}: {e}",
                crate::base::escape::display(t.as_bytes())
            )),
        }
    }

    /// True when any of these flags is on the command line.
    pub fn given(&self) -> bool {
        self.set_home
            || self.stdin
            || self.askpass
            || self.prompt.is_some()
            || self.preserve_env.is_some()
            || self.preserve_groups
            || self.command_timeout.is_some()
            || self.background
    }
}

/// bdexec's options that take a value: short letters and long names.
const SHORT_WITH_VALUE: &[char] = &['u', 'U', 'g', 'D', 'p', 'T'];
const LONG_WITH_VALUE: &[&str] = &[
    "--user",
    "--token",
    "--other-user",
    "--group",
    "--chdir",
    "--prompt",
    "--command-timeout",
];

/// Rewrite bdexec's argument list so that clap reads option values the
/// way getopt(3) does. clap takes `-u=root` as the user "root"; getopt
/// (and sudo) as the user "=root", and a separate value (`-u -x`) as the
/// value whatever it starts with. Each value is therefore handed to clap
/// in the one form it takes verbatim: `-u=VALUE` (clap strips exactly
/// one `=` after a short option) and `--user=VALUE`. Options end at `--`
/// or at the first argument that is not an option (the command); nothing
/// after it is touched. Options that are not valid UTF-8 are left for
/// clap to judge.
pub fn getopt_args(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.iter();
    if let Some(a0) = it.next() {
        out.push(a0.clone());
    }
    while let Some(a) = it.next() {
        let Some(s) = a.to_str() else {
            // Not UTF-8: an option is clap's to refuse; anything else is
            // the command, whose arguments are not touched.
            out.push(a.clone());
            if a.as_encoded_bytes().first() != Some(&b'-') {
                out.extend(it.cloned());
                break;
            }
            continue;
        };
        if s == "--" || !s.starts_with('-') || s == "-" {
            out.push(a.clone());
            out.extend(it.cloned());
            break;
        }
        if s.starts_with("--") {
            if LONG_WITH_VALUE.contains(&s) {
                match it.next() {
                    Some(v) => {
                        let mut joined = OsString::from(format!("{s}="));
                        joined.push(v);
                        out.push(joined);
                    }
                    None => out.push(a.clone()),
                }
            } else {
                out.push(a.clone());
            }
            continue;
        }
        // A cluster of short options: the first one that takes a value
        // takes the rest of the cluster, or else the next argument.
        match s
            .char_indices()
            .skip(1)
            .find(|(_, c)| SHORT_WITH_VALUE.contains(c))
        {
            None => out.push(a.clone()),
            Some((i, c)) => {
                let (flags, rest) = s.split_at(i + c.len_utf8());
                if !rest.is_empty() {
                    out.push(OsString::from(format!("{flags}={rest}")));
                } else if let Some(v) = it.next() {
                    let mut joined = OsString::from(format!("{flags}="));
                    joined.push(v);
                    out.push(joined);
                } else {
                    out.push(a.clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn user_of(v: &[&str]) -> Option<String> {
        let mut a = vec!["bdexec"];
        a.extend_from_slice(v);
        let (p, _) = BdexecArgs::parse_strict(&os(&a)).ok()?.ok()?;
        p.user.map(|u| u.to_string_lossy().into_owned())
    }

    #[test]
    fn user_values_read_as_getopt_does() {
        for v in [
            &["-uroot", "id"][..],
            &["-u", "root", "id"],
            &["--user", "root", "id"],
            &["--user=root", "id"],
            &["-nuroot", "id"],
            &["-nu", "root", "id"],
        ] {
            assert_eq!(user_of(v).as_deref(), Some("root"), "{v:?}");
        }
        assert_eq!(user_of(&["-u=root", "id"]).as_deref(), Some("=root"));
        assert_eq!(user_of(&["-u", "=root", "id"]).as_deref(), Some("=root"));
        assert_eq!(user_of(&["-u", "-n", "id"]).as_deref(), Some("-n"));
        assert_eq!(user_of(&["--user", "-n", "id"]).as_deref(), Some("-n"));
        assert_eq!(user_of(&["--user==x", "id"]).as_deref(), Some("=x"));
    }

    #[test]
    fn the_command_and_its_arguments_are_untouched() {
        let a = os(&["bdexec", "-u", "bob", "id", "-u=root", "--user", "x"]);
        let (p, m) = BdexecArgs::parse_strict(&a).unwrap().unwrap();
        assert_eq!(m, Mode::Run);
        assert_eq!(p.command, os(&["id", "-u=root", "--user", "x"]));
        let a = os(&["bdexec", "--", "-uroot"]);
        let (p, _) = BdexecArgs::parse_strict(&a).unwrap().unwrap();
        assert_eq!(p.command, os(&["-uroot"]));
        assert!(p.user.is_none());
    }

    #[test]
    fn preserve_env_forms() {
        let pe = |v: &[&str]| {
            let mut a = vec!["bdexec"];
            a.extend_from_slice(v);
            let (p, _) = BdexecArgs::parse_strict(&os(&a)).ok()?.ok()?;
            p.driver.preserve_env
        };
        assert_eq!(pe(&["-E", "id"]), Some(vec![]));
        assert_eq!(pe(&["--preserve-env", "id"]), Some(vec![]));
        assert_eq!(
            pe(&["--preserve-env=A,B", "id"]),
            Some(vec!["A".to_string(), "B".to_string()])
        );
        assert_eq!(pe(&["-HSE", "id"]), Some(vec![]));
        assert_eq!(pe(&["id", "-E"]), None);
        let a = os(&["bdexec", "-E", "id", "-u"]);
        let (p, _) = BdexecArgs::parse_strict(&a).unwrap().unwrap();
        assert_eq!(p.command, os(&["id", "-u"]));
        let a = os(&["bdexec", "-Sp", "pw:", "id"]);
        let (p, _) = BdexecArgs::parse_strict(&a).unwrap().unwrap();
        assert_eq!(p.driver.prompt, Some("pw:".into()));
        assert!(p.driver.stdin);
    }

    #[test]
    fn combinations_outside_the_synopsis_are_usage_errors() {
        let mode = |v: &[&str]| {
            let mut a = vec!["bdexec"];
            a.extend_from_slice(v);
            match BdexecArgs::parse_strict(&os(&a)) {
                Ok(r) => r.map(|(_, m)| m).map_err(|_| "usage"),
                Err(_) => Err("clap"),
            }
        };
        assert_eq!(mode(&["-k"]), Ok(Mode::ResetOnly));
        assert_eq!(mode(&["-l"]), Ok(Mode::List));
        assert_eq!(mode(&["-l", "-n", "-k"]), Ok(Mode::List));
        assert_eq!(mode(&["-k", "-n", "id"]), Ok(Mode::Run));
        assert_eq!(mode(&["-k", "-u", "root"]), Err("usage"));
        assert_eq!(mode(&["-k", "-n"]), Err("usage"));
        assert_eq!(mode(&["-k", "--token", "f"]), Err("usage"));
        assert_eq!(mode(&["-u", "bob", "-l"]), Err("usage"));
        assert_eq!(mode(&["-l", "--token", "f"]), Err("usage"));
        assert_eq!(mode(&["-n"]), Err("usage"));
        assert_eq!(mode(&["-u", "root"]), Err("usage"));
        assert_eq!(mode(&["-l", "id"]), Ok(Mode::Check));
        assert_eq!(mode(&["-l", "-U", "bob", "--", "id"]), Ok(Mode::Check));
        assert_eq!(mode(&["-l", "-U", "bob"]), Ok(Mode::List));
        assert_eq!(mode(&["-U", "bob", "id"]), Err("usage"));
        assert_eq!(mode(&["-K"]), Ok(Mode::RemoveAll));
        assert_eq!(mode(&["-K", "id"]), Err("usage"));
        assert_eq!(mode(&["-K", "-s"]), Err("usage"));
        assert_eq!(mode(&["-K", "-g", "ops"]), Err("usage"));
        assert_eq!(mode(&["-K", "-k"]), Err("usage"));
        assert_eq!(mode(&["-v"]), Ok(Mode::Validate));
        assert_eq!(mode(&["-v", "-n"]), Ok(Mode::Validate));
        assert_eq!(mode(&["-v", "id"]), Err("usage"));
        assert_eq!(mode(&["-s"]), Ok(Mode::Run));
        assert_eq!(mode(&["-i"]), Ok(Mode::Run));
        assert_eq!(mode(&["-s", "-i"]), Err("clap"));
        assert_eq!(mode(&["-i", "-D", "/tmp"]), Err("usage"));
        assert_eq!(mode(&["-gops", "id"]), Ok(Mode::Run));
        assert_eq!(mode(&["-D", "/srv", "id"]), Ok(Mode::Run));
        assert_eq!(mode(&["-g", "ops"]), Err("usage"));
        assert_eq!(mode(&["-l", "-g", "ops"]), Err("usage"));
        assert_eq!(mode(&["-e", "/etc/motd"]), Ok(Mode::Edit));
        assert_eq!(mode(&["-e", "-u", "bob", "-n", "--", "/f"]), Ok(Mode::Edit));
        assert_eq!(mode(&["-e"]), Err("usage"));
        assert_eq!(mode(&["-e", "-s", "/f"]), Err("usage"));
        assert_eq!(mode(&["-e", "-l", "/f"]), Err("usage"));
        assert_eq!(mode(&["-e", "-K"]), Err("usage"));
        assert_eq!(mode(&["-u", "a", "-u", "b", "id"]), Err("clap"));
    }
}
