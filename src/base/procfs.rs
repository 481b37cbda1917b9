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
    String::from_utf8(read(path)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
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
    }
}
