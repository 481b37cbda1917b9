//! Writes a minimal newc cpio archive for the kernel matrix:
//!
//! ```text
//! mkinitramfs INIT_BINARY OUT.cpio
//! ```
//!
//! The archive holds `/init` (the probe), `/dev/console` (char 5:1, so the
//! kernel can give /init its stdin/stdout/stderr before anything is
//! mounted), and the empty mount points the probe uses. Written by hand
//! rather than with cpio(1) so that creating the device node needs no root
//! and the output is byte-for-byte reproducible (all mtimes are 0, owner
//! root). Compress it with `gzip -n` afterwards.

use std::io::Write;

struct Entry<'a> {
    name: &'a str,
    mode: u32,
    rdev: (u32, u32),
    data: &'a [u8],
}

fn header(out: &mut Vec<u8>, ino: u32, e: &Entry) {
    let namesize = e.name.len() + 1;
    let fields = [
        ino,
        e.mode,
        0, // uid
        0, // gid
        if e.mode & 0o170000 == 0o040000 { 2 } else { 1 },
        0, // mtime
        e.data.len() as u32,
        0, // devmajor
        0, // devminor
        e.rdev.0,
        e.rdev.1,
        namesize as u32,
        0, // check
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(e.name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(e.data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: mkinitramfs INIT_BINARY OUT.cpio");
        std::process::exit(2);
    }
    let init = std::fs::read(&args[1]).unwrap_or_else(|e| {
        eprintln!("mkinitramfs: {}: {e}", args[1]);
        std::process::exit(1);
    });
    let dir = |name| Entry { name, mode: 0o040755, rdev: (0, 0), data: &[] };
    let entries = [
        dir("dev"),
        Entry { name: "dev/console", mode: 0o020600, rdev: (5, 1), data: &[] },
        dir("proc"),
        dir("sys"),
        dir("tmp"),
        dir("root"),
        Entry { name: "init", mode: 0o100755, rdev: (0, 0), data: &init },
    ];
    let mut out = Vec::with_capacity(init.len() + 4096);
    for (i, e) in entries.iter().enumerate() {
        header(&mut out, i as u32 + 1, e);
    }
    header(&mut out, 0, &Entry { name: "TRAILER!!!", mode: 0, rdev: (0, 0), data: &[] });
    // The kernel reads the archive in 512-byte blocks at most; pad like cpio(1).
    while !out.len().is_multiple_of(512) {
        out.push(0);
    }
    let mut f = std::fs::File::create(&args[2]).unwrap_or_else(|e| {
        eprintln!("mkinitramfs: {}: {e}", args[2]);
        std::process::exit(1);
    });
    f.write_all(&out).expect("write initramfs");
}
