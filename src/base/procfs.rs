//! Reading a /proc file in one go. /proc files report a size of 0, so
//! `std::fs::read` starts from a 32-byte probe and doubles: seven reads
//! for /proc/self/status. One page of room makes it two (the data, then
//! the end), and bdexec reads such files on every call. Through
//! [`super::bounded_read`], so no statx and lseek for a size hint either.
#![forbid(unsafe_code)]

/// Room for one read: /proc/self/status is about 1.4 KiB.
const ROOM: usize = 4096;

/// The whole file at `path`.
pub fn read(path: &str) -> std::io::Result<Vec<u8>> {
    super::bounded_read::read_up_to(std::fs::File::open(path)?, ROOM as u64, u64::MAX - 1)
}

/// The whole file at `path`, as text.
pub fn read_to_string(path: &str) -> std::io::Result<String> {
    super::bounded_read::read_text_up_to(std::fs::File::open(path)?, ROOM as u64, u64::MAX - 1)
}

/// The fields of a /proc/PID/stat file (`path`) after the command name:
/// field 3 (`state`) first. The name may hold spaces and `)`, so they
/// start after its last `)`.
pub fn stat_fields(path: &str) -> Option<Vec<String>> {
    let stat = read(path).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 2..)?).ok()?;
    Some(rest.split(' ').map(str::to_owned).collect())
}

/// The kernel's `tty_nr` encoding (/proc/PID/stat field 7) as
/// (major, minor).
pub fn decode_tty_nr(tty_nr: u32) -> (u32, u32) {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    (major, minor)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_whole_proc_file() {
        let status = super::read_to_string("/proc/self/status").expect("status");
        assert!(status.starts_with("Name:") && status.contains("\nSigIgn:"));
        assert!(status.ends_with('\n'), "the whole file");
        let boot = super::read("/proc/sys/kernel/random/boot_id").expect("boot_id");
        assert_eq!(boot.len(), 37);
        let f = super::stat_fields("/proc/self/stat").expect("stat");
        assert_eq!(
            f[1],
            std::os::unix::process::parent_id().to_string(),
            "field 4 is ppid, 3 is state: {f:?}"
        );
        assert_eq!(f[0].len(), 1, "state: {f:?}");
    }
}
