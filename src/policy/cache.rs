//! The compiled policy cache (issue 16): `/run/belladonna/policy.cache`.
//!
//! A large policy costs bdexec a full parse per call; the cache makes a
//! call merge only the rules that can apply to its caller, already
//! parsed. It holds the policy cut into pieces and the caller index
//! ([`crate::policy::index`]):
//!
//! * per file (main file, then the drop-ins in load order) its *base*:
//!   the text with every `[[rule]]` table cut out, parsed, with its
//!   origins put back on the file's own lines;
//! * per rule its *piece*: its `[[rule]]` table (from its header to the
//!   next table header), parsed on its own, origins on the file's lines;
//! * the index: key (uid, user name, gid, group name) -> rule positions.
//!
//! Each piece is parsed with the ordinary parser when the cache is built
//! and kept in a binary form (src/policy/cache/wire.rs); a call reads back each file's
//! base and its candidate rules' pieces and merges them with the ordinary
//! [`merge`]: the same validation of the whole, the same model, rules in
//! policy order, the real origins (file and line). No TOML is parsed on
//! the call's path (the parser's first run in a fresh process was the
//! largest part of a policy load: docs/performance.md). Nothing in the
//! cache is a decision by itself: it holds the policy's own rules.
//!
//! Trust: the cache is used only when it is a regular file in the
//! trusted state directory, owned by root, mode exactly 0600, one link
//! (anything else is ignored and replaced), its BLAKE3 checksum over the
//! whole blob holds, and its key equals BLAKE3 of the raw policy bytes
//! just read (every file, drop-ins included, with their names) and of the
//! running binary's identity ([`build_identity`]), or the files' settled
//! stamps equal the ones it holds. A cache that fails any of these is
//! rebuilt from the full parse; a cache whose pieces do not decode is a
//! full parse too: never an allow. When it is built, the blob is read
//! back and assembled with every rule by the code a call runs, and must
//! give exactly the policy of the full parse (same rules, order,
//! origins, everything), or the cache records that this policy cannot be
//! cut (`indexed = false`) and every call parses it whole.
//!
//! Format (little-endian; `bytes` = u32 length + bytes): magic
//! `BDPCv003`, key (32 bytes), hash (32 bytes), raw (32 bytes), flags u8
//! (1 = indexed, 2 = names groups), `bytes` stamps (empty, or the settled
//! stamps of the files the key was computed from:
//! [`crate::policy::stamp`]), u32 files, per file `bytes` path, `bytes`
//! base piece; u32 chunks, per chunk u32 file, u32 start, u32 end of its
//! piece in the heap; `bytes` heap (the rules' pieces); u32 keys, per key
//! `bytes` key ([`crate::policy::index::Key::encode`]), u32 n, n x u32
//! rule; then BLAKE3 over everything before it (32 bytes). A call reads
//! the tables in place and decodes only its own rules' pieces.
#![forbid(unsafe_code)]

use crate::base::atomic_file::{Replace, replace_at};
use crate::base::framing::{Reader, Span, put_bytes, put_u32};
use crate::base::secure_fs::{
    FileOwner, ModeRule, PrivateError, PrivateRead, open_private_at, read_private_at,
    read_private_fd,
};
use crate::policy::PolicyError;
use crate::policy::index::{Index, caller_keys};
use crate::policy::load::{
    Loaded, Sources, open_sources_in, parse_sources, raw_digest, read_opened,
};
use crate::policy::model::{Origin, Policy};
use crate::policy::parse::{PolicyFragment, merge, parse_policy};
use crate::policy::stamp::{self, Stamp, encode_all};
use crate::request::Caller;
use crate::sys::map::Mapping;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The cache's name in the state directory (`/run/belladonna`).
pub const CACHE_NAME: &str = "policy.cache";
const MAGIC: &[u8; 8] = b"BDPCv003";
/// Largest cache read (a policy is at most 16 MiB per file).
const MAX_CACHE_BYTES: u64 = 1 << 30;
const FLAG_INDEXED: u8 = 1;
const FLAG_NAMES_GROUPS: u8 = 2;

/// What the binary is, for the key: a cache written by another build
/// (another version, or another file: a reinstall changes its inode and
/// times) is stale. The format version and the package version, and the
/// running executable's device, inode, size, mtime and ctime.
pub fn build_identity() -> [u8; 32] {
    // Asked by the policy cache and both memos on every call; the
    // running executable does not change under a process.
    static ID: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    *ID.get_or_init(|| {
        let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
        // One stat of the twin answers both whether it exists and what
        // it is (paths::twin_pair would stat it once more).
        if let Some((bdexec, twin, exe_is_twin)) = crate::base::paths::pair_candidate(&exe) {
            let twin_meta = std::fs::metadata(&twin).ok();
            if exe_is_twin || twin_meta.is_some() {
                let own = std::fs::metadata(&bdexec).ok();
                return pair_of(
                    identity_from(own.as_ref()),
                    identity_from(twin_meta.as_ref()),
                );
            }
        }
        identity_of(Path::new("/proc/self/exe"))
    })
}

/// The identity a static bdexec and its twin share (src/exec/twin.rs):
/// the twin answers for the static bdexec, and the entries either writes
/// are keyed for both (they are the same source, installed together).
pub fn pair_identity(bdexec: &Path, twin: &Path) -> [u8; 32] {
    pair_of(identity_of(bdexec), identity_of(twin))
}

fn pair_of(bdexec: [u8; 32], twin: [u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&bdexec);
    h.update(&twin);
    *h.finalize().as_bytes()
}

/// [`build_identity`] of the executable at `exe` (tests compute the key
/// a bdexec copy will look for).
pub fn identity_of(exe: &Path) -> [u8; 32] {
    identity_from(std::fs::metadata(exe).ok().as_ref())
}

/// The identity of an executable with metadata `m` (`None`: unreadable).
fn identity_from(m: Option<&std::fs::Metadata>) -> [u8; 32] {
    use std::os::unix::fs::MetadataExt;
    let mut h = blake3::Hasher::new();
    h.update(MAGIC);
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    if let Some(m) = m {
        for v in [
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime() as u64,
            m.mtime_nsec() as u64,
            m.ctime() as u64,
            m.ctime_nsec() as u64,
        ] {
            h.update(&v.to_le_bytes());
        }
    }
    *h.finalize().as_bytes()
}

/// The key of a policy (its raw digest, [`Loaded::raw`]) for a build.
pub fn cache_key(raw: &[u8; 32], build: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"belladonna-policy-cache-key-v1\0");
    h.update(raw);
    h.update(build);
    *h.finalize().as_bytes()
}

// ---------------------------------------------------------------- building

/// The byte ranges of each rule's `[[rule]]` table in `text`: from the
/// start of its header's line to the next line that starts (after
/// blanks) with `[` and is not one of the rule's own tables
/// (`[rule.x]`, `[[rule.x]]`), or the end. `lines` are the 1-based header lines, in
/// order. `None` when they are not strictly increasing or out of range.
fn chunk_ranges(text: &str, lines: &[u32]) -> Option<Vec<(usize, usize, u32)>> {
    let mut starts = vec![0usize];
    starts.extend(
        text.bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i + 1),
    );
    let line_at = |l: usize| {
        let s = starts[l];
        let e = starts.get(l + 1).copied().unwrap_or(text.len());
        text[s..e].trim_start()
    };
    let is_header = |l: usize| line_at(l).starts_with('[');
    // `[rule.setenv]`, `[[rule.commands]]`: tables of the rule itself.
    let own_table = |l: usize| {
        let t = line_at(l).trim_start_matches('[').trim_start();
        t.starts_with("rule.") || t.starts_with("rule .")
    };
    let mut out = Vec::with_capacity(lines.len());
    let mut prev_end = 0usize;
    for &line in lines {
        let l = (line as usize).checked_sub(1)?;
        let start = *starts.get(l)?;
        if start < prev_end || !is_header(l) {
            return None;
        }
        let mut m = l + 1;
        while m < starts.len() && starts[m] < text.len() && (!is_header(m) || own_table(m)) {
            m += 1;
        }
        let end = starts.get(m).copied().unwrap_or(text.len()).min(text.len());
        out.push((start, end, line));
        prev_end = end;
    }
    Some(out)
}

/// The pieces of a policy as text: per file (path, base, cuts), per rule
/// (file, line, text).
struct Pieces {
    files: Vec<(PathBuf, String, Cuts)>,
    chunks: Vec<(u32, u32, String)>,
}

/// Where a file's rules were cut out: `(line, removed)` pairs, `line` the
/// base's line where the text after a cut starts, `removed` the lines cut
/// so far (cumulative). A base line `u` was line `u + removed` of the
/// file, for the last cut with `line <= u`.
type Cuts = Vec<(u32, u32)>;

/// A base's line back on its file's own lines.
fn orig(cuts: &Cuts, line: u32) -> u32 {
    let i = cuts.partition_point(|(c, _)| *c <= line);
    match i.checked_sub(1).and_then(|i| cuts.get(i)) {
        Some((_, removed)) => line.saturating_add(*removed),
        None => line,
    }
}

/// Every origin of a base fragment back to the file's own lines.
fn fix_base(cuts: &Cuts, f: &mut PolicyFragment) {
    let fix = |o: &mut Origin| o.line = orig(cuts, o.line);
    if let Some((_, o)) = &mut f.defaults {
        fix(o);
    }
    f.sandboxes.iter_mut().for_each(|s| fix(&mut s.origin));
    f.sandbox_table.iter_mut().for_each(fix);
    f.sandbox_refs.iter_mut().for_each(|(_, o)| fix(o));
    f.approvers.iter_mut().for_each(|a| fix(&mut a.origin));
    f.approvers_table.iter_mut().for_each(fix);
    f.approver_refs.iter_mut().for_each(|(_, o)| fix(o));
    f.incident
        .decoys
        .iter_mut()
        .for_each(|(_, r)| fix(&mut r.origin));
}

/// Whether a rule's piece is one rule and nothing else.
fn lone(f: &PolicyFragment) -> bool {
    f.rules.len() == 1
        && f.version.is_none()
        && f.defaults.is_none()
        && f.sandboxes.is_empty()
        && f.sandbox_table.is_none()
        && f.approvers.is_empty()
        && f.approvers_table.is_none()
        && f.audit.is_none()
        && f.incident.decoys.is_empty()
        && !f.incident.table
}

fn cut(sources: &Sources, policy: &Policy) -> Option<Pieces> {
    let mut files = Vec::with_capacity(sources.len());
    let mut chunks = Vec::with_capacity(policy.rules.len());
    let mut rules = policy.rules.iter().peekable();
    for (k, (path, text)) in sources.iter().enumerate() {
        let mut lines = Vec::new();
        while let Some(r) = rules.next_if(|r| r.origin.file == *path) {
            lines.push(r.origin.line);
        }
        let ranges = chunk_ranges(text, &lines)?;
        let mut base = String::with_capacity(text.len());
        let mut cuts = Vec::with_capacity(ranges.len());
        let (mut at, mut removed) = (0, 0u32);
        for (s, e, line) in ranges {
            base.push_str(&text[at..s]);
            let piece = &text[s..e];
            removed = removed.checked_add(piece.matches('\n').count() as u32)?;
            let base_line = base.matches('\n').count() as u32 + 1;
            cuts.push((base_line, removed));
            chunks.push((k as u32, line, piece.to_string()));
            at = e;
        }
        base.push_str(&text[at..]);
        files.push((path.clone(), base, cuts));
    }
    // Every rule belongs to a file, in file order.
    if rules.next().is_some() {
        return None;
    }
    Some(Pieces { files, chunks })
}

/// The pieces parsed, each on its own with the ordinary parser, and in
/// their binary form ([`wire`]): per file its path and its base (origins
/// on the file's own lines), per rule its file and its one-rule piece
/// (origins shifted to the rule's lines). `None` when a piece does not
/// parse, or a rule's piece is not exactly one rule.
fn encode_pieces(p: &Pieces) -> Option<Encoded> {
    let mut files = Vec::with_capacity(p.files.len());
    for (path, text, cuts) in &p.files {
        let mut f = parse_policy(text, path).ok()?;
        fix_base(cuts, &mut f);
        files.push((path.clone(), wire::encode(&f)));
    }
    let mut chunks = Vec::with_capacity(p.chunks.len());
    for (file, line, text) in &p.chunks {
        let path = &p.files.get(*file as usize)?.0;
        let mut f = parse_policy(text, path).ok().filter(lone)?;
        let shift = |o: &mut Origin| o.line = o.line.saturating_add(line.saturating_sub(1));
        f.rules.iter_mut().for_each(|r| shift(&mut r.origin));
        f.sandbox_refs.iter_mut().for_each(|(_, o)| shift(o));
        f.approver_refs.iter_mut().for_each(|(_, o)| shift(o));
        chunks.push((*file, wire::encode(&f)));
    }
    Some(Encoded { files, chunks })
}

/// [`encode_pieces`]' result.
struct Encoded {
    files: Vec<(PathBuf, Vec<u8>)>,
    chunks: Vec<(u32, Vec<u8>)>,
}

/// The cache blob for a policy fully parsed from `sources`. Cuts it into
/// pieces and checks that the pieces give back exactly `full.policy`;
/// when they do not, the blob says so (not indexed) and holds no pieces.
pub fn compile(sources: &Sources, full: &Loaded, key: &[u8; 32]) -> Vec<u8> {
    compile_stamped(sources, full, key, None)
}

/// [`compile`] with the settled stamps of the files `sources` were read
/// from (taken before they were read), which later calls may trust
/// instead of reading and hashing the files.
///
/// The indexed blob is checked through the very code a call runs: read
/// back ([`Compiled::parse`]) and assembled with every rule
/// ([`Compiled::assemble`]), it must give exactly `full.policy` (rules,
/// order, origins, every table), or the blob says "not indexed".
pub fn compile_stamped(
    sources: &Sources,
    full: &Loaded,
    key: &[u8; 32],
    stamps: Option<&[Stamp]>,
) -> Vec<u8> {
    let index = Index::build(&full.policy.rules);
    let stamps = stamps.map(encode_all).unwrap_or_default();
    if let Some(enc) = cut(sources, &full.policy).and_then(|p| encode_pieces(&p)) {
        let blob = emit(full, key, &stamps, &index, Some(&enc));
        let all: Vec<u32> = (0..enc.chunks.len() as u32).collect();
        let same = Compiled::parse(blob.clone())
            .is_some_and(|c| c.assemble(&all).is_ok_and(|p| p == full.policy));
        if same {
            return blob;
        }
    }
    emit(full, key, &stamps, &index, None)
}

/// The blob's bytes (the format is in the module's documentation);
/// `pieces` `None` for a policy that is not indexed.
fn emit(
    full: &Loaded,
    key: &[u8; 32],
    stamps: &[u8],
    index: &Index,
    pieces: Option<&Encoded>,
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key);
    out.extend_from_slice(&full.hash);
    out.extend_from_slice(&full.raw);
    let mut flags = 0;
    if pieces.is_some() {
        flags |= FLAG_INDEXED;
    }
    if index.names_groups() {
        flags |= FLAG_NAMES_GROUPS;
    }
    out.push(flags);
    put_bytes(&mut out, stamps);
    let (files, chunks) = pieces.map_or((&[][..], &[][..]), |p| (&p.files[..], &p.chunks[..]));
    put_u32(&mut out, files.len() as u32);
    for (path, base) in files {
        put_bytes(&mut out, path.as_os_str().as_bytes());
        put_bytes(&mut out, base);
    }
    put_u32(&mut out, chunks.len() as u32);
    let mut heap = Vec::new();
    for (file, piece) in chunks {
        put_u32(&mut out, *file);
        put_u32(&mut out, heap.len() as u32);
        heap.extend_from_slice(piece);
        put_u32(&mut out, heap.len() as u32);
    }
    put_bytes(&mut out, &heap);
    let keys: Vec<_> = if pieces.is_some() {
        index.map.iter().collect()
    } else {
        Vec::new()
    };
    put_u32(&mut out, keys.len() as u32);
    for (k, ids) in keys {
        put_bytes(&mut out, &k.encode());
        put_u32(&mut out, ids.len() as u32);
        for i in ids {
            put_u32(&mut out, *i);
        }
    }
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

// ---------------------------------------------------------------- reading

/// Why a cache was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// No cache file.
    Missing,
    /// Not root's 0600 single-link regular file, or unreadable.
    Untrusted(String),
    /// Bad magic, checksum or structure.
    Corrupt,
    /// Another policy or another build.
    Key,
}

/// A cache blob's bytes: read into memory (small caches, tests) or
/// mapped from the cache file (large ones, [`read_at`]).
#[derive(Debug)]
enum Blob {
    Owned(Vec<u8>),
    Mapped(Mapping),
}

impl std::ops::Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Blob::Owned(v) => v,
            Blob::Mapped(m) => m.bytes(),
        }
    }
}

/// A verified cache blob, read lazily: nothing is copied per rule.
#[derive(Debug)]
pub struct Compiled {
    blob: Blob,
    pub key: [u8; 32],
    pub hash: [u8; 32],
    pub raw: [u8; 32],
    pub indexed: bool,
    pub names_groups: bool,
    /// The encoded stamps in `blob` (empty: none).
    stamps: Span,
    /// (path, base piece) ranges in `blob`.
    files: Vec<(Span, Span)>,
    /// Where the chunk table starts in `blob` and how many entries (12
    /// bytes each: file, start, end of its piece in the heap), read in
    /// place.
    chunks: (usize, usize),
    /// The rules' pieces, one after the other.
    heap: Span,
    /// Where the key table starts in `blob` and how many keys (walked in
    /// place: nothing is allocated per rule or key).
    keys: (usize, usize),
}

impl Compiled {
    /// Check and index a blob: magic, checksum, structure (every range in
    /// bounds, pieces UTF-8, rule numbers in range). `None` = corrupt.
    pub fn parse(blob: Vec<u8>) -> Option<Compiled> {
        Self::parse_checked(Blob::Owned(blob), true)
    }

    /// [`Compiled::parse`]; `hash` false skips the checksum, for a blob
    /// the verification memo vouches for ([`read_at`]). The structure is
    /// checked either way.
    fn parse_checked(blob: Blob, hash: bool) -> Option<Compiled> {
        let body_len = blob.len().checked_sub(32)?;
        let (body, sum) = blob.split_at(body_len);
        if !body.starts_with(MAGIC) || (hash && blake3::hash(body).as_bytes() != sum) {
            return None;
        }
        let mut r = Reader {
            b: body,
            pos: MAGIC.len(),
        };
        let key = r.arr()?;
        let hash = r.arr()?;
        let raw = r.arr()?;
        let (fs, _) = r.take(1)?;
        let flags = body[fs];
        let stamps = r.bytes()?;
        let nfiles = r.u32()? as usize;
        let mut files = Vec::with_capacity(nfiles.min(1 << 16));
        for _ in 0..nfiles {
            let path = r.bytes()?;
            let base = r.bytes()?;
            files.push((path, base));
        }
        let nchunks = r.u32()? as usize;
        let (chunks_at, _) = r.take(nchunks.checked_mul(12)?)?;
        let heap = r.bytes()?;
        let nkeys = r.u32()? as usize;
        let keys_at = r.pos;
        for _ in 0..nkeys {
            r.bytes()?;
            let n = r.u32()?;
            r.take((n as usize).checked_mul(4)?)?;
        }
        if r.pos != body.len() {
            return None;
        }
        let c = Compiled {
            key,
            hash,
            raw,
            indexed: flags & FLAG_INDEXED != 0,
            names_groups: flags & FLAG_NAMES_GROUPS != 0,
            stamps,
            files,
            chunks: (chunks_at, nchunks),
            heap,
            keys: (keys_at, nkeys),
            blob,
        };
        // A chunk out of range or out of file order, a rule number past
        // the end: errors in `assemble`, so a full parse, never a rule
        // skipped.
        Some(c)
    }

    fn word(&self, at: usize) -> u32 {
        let b = &self.blob;
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Rule `i`'s piece: its file and where its bytes are in the blob.
    fn chunk(&self, i: usize) -> Option<(u32, Span)> {
        if i >= self.chunks.1 {
            return None;
        }
        let at = self.chunks.0 + 12 * i;
        let file = self.word(at);
        let (start, end) = (self.word(at + 4) as usize, self.word(at + 8) as usize);
        let heap_len = self.heap.1 - self.heap.0;
        (start <= end && end <= heap_len && (file as usize) < self.files.len())
            .then_some((file, (self.heap.0 + start, self.heap.0 + end)))
    }

    /// Whether the cache holds stamps and they are `enc` (encoded
    /// [`Stamp`]s of the files now).
    pub fn stamped_by(&self, enc: &[u8]) -> bool {
        !enc.is_empty() && &self.blob[self.stamps.0..self.stamps.1] == enc
    }

    /// Whether the cache holds stamps.
    pub fn has_stamps(&self) -> bool {
        self.stamps.1 > self.stamps.0
    }

    /// The same blob with the stamps `enc` instead of its own (and a new
    /// checksum).
    pub fn restamped(&self, enc: &[u8]) -> Vec<u8> {
        let body_end = self.blob.len() - 32;
        let mut out = Vec::with_capacity(self.blob.len() + enc.len());
        out.extend_from_slice(&self.blob[..self.stamps.0 - 4]);
        put_bytes(&mut out, enc);
        out.extend_from_slice(&self.blob[self.stamps.1..body_end]);
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        out
    }

    /// How many rules the policy has (chunks).
    pub fn rules(&self) -> usize {
        self.chunks.1
    }

    /// The positions of the rules that can apply to `caller`, in policy
    /// order (see [`Index::candidates`]).
    pub fn candidates(&self, caller: &Caller) -> Vec<u32> {
        let wanted: Vec<Vec<u8>> = caller_keys(caller).iter().map(|k| k.encode()).collect();
        let mut out = Vec::new();
        // Walked in `parse`: every length is in bounds.
        let mut at = self.keys.0;
        for _ in 0..self.keys.1 {
            let len = self.word(at) as usize;
            let k = &self.blob[at + 4..at + 4 + len];
            let n = self.word(at + 4 + len) as usize;
            let ids = at + 8 + len;
            if wanted.iter().any(|w| w.as_slice() == k) {
                out.extend((0..n).map(|j| self.word(ids + 4 * j)));
            }
            at = ids + 4 * n;
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The policy with only rules `ids` (sorted): each file's base, then
    /// its chosen rules, read from their binary form (src/policy/cache/wire.rs) and
    /// merged with the ordinary [`merge`] in policy order. No text is
    /// parsed: the key (or the settled stamps) proves the files hold the
    /// bytes the pieces were parsed from. Any fault (a rule number past
    /// the end, a piece that does not decode or is not exactly one rule,
    /// rules out of file order) is an error, so a full parse, never a
    /// rule skipped.
    pub fn assemble(&self, ids: &[u32]) -> Result<Policy, PolicyError> {
        let corrupt = || {
            let f = self.files.first().map_or_else(
                || PathBuf::from(crate::base::paths::POLICY_FILE),
                |(p, _)| PathBuf::from(OsStr::from_bytes(&self.blob[p.0..p.1])),
            );
            PolicyError::file(
                crate::policy::PolicyErrorKind::Invalid,
                &f,
                "policy cache: bad piece",
            )
        };
        let piece = |(s, e): Span, (p, _): &(Span, Span)| {
            wire::decode(
                &self.blob[s..e],
                Path::new(OsStr::from_bytes(&self.blob[p.0..p.1])),
            )
        };
        let mut chosen = Vec::with_capacity(ids.len());
        for &i in ids {
            chosen.push(self.chunk(i as usize).ok_or_else(corrupt)?);
        }
        let mut frags: Vec<PolicyFragment> = Vec::with_capacity(self.files.len() + ids.len());
        let mut next = chosen.into_iter().peekable();
        for (k, file) in self.files.iter().enumerate() {
            frags.push(piece(file.1, file).ok_or_else(corrupt)?);
            while let Some((_, span)) = next.next_if(|c| c.0 as usize == k) {
                frags.push(piece(span, file).filter(lone).ok_or_else(corrupt)?);
            }
        }
        if next.next().is_some() || frags.is_empty() {
            return Err(corrupt());
        }
        let main = frags.remove(0);
        merge(main, frags)
    }
}

/// Read the cache from the state directory: only a regular file owned by
/// root, mode 0600, one link.
pub fn read(dir: BorrowedFd<'_>) -> Result<Compiled, Stale> {
    read_at(dir, stamp::now())
}

/// The verification memo's name in the state directory, beside the
/// cache: `policy.cache.ok`.
pub const VERIFIED_NAME: &str = "policy.cache.ok";
const VERIFIED_MAGIC: &[u8; 8] = b"BDPCok01";
/// Blobs smaller than this are hashed at every read: reading the memo
/// costs more than their checksum (a one-rule policy's blob is under
/// 4 KiB; 10,000 rules give 458 KiB, 283 us of BLAKE3 in the static
/// bdexec's SSE2 code).
const MEMO_MIN_BYTES: usize = 64 * 1024;

/// The memo's bytes for a blob with this stamp and checksum: magic, the
/// blob's stamp, its checksum, then BLAKE3 of all that.
fn memo_bytes(blob: &Stamp, sum: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(VERIFIED_MAGIC);
    blob.encode(&mut out);
    out.extend_from_slice(sum);
    let check = blake3::hash(&out);
    out.extend_from_slice(check.as_bytes());
    out
}

/// The stamp of the cache file just read (`st`: its fstat, taken before
/// the read).
fn blob_stamp(dir: BorrowedFd<'_>, st: &nix::sys::stat::FileStat) -> Option<Stamp> {
    let fs = stamp::fs_type_of_dev(st.st_dev, || {
        nix::sys::statfs::fstatfs(dir)
            .ok()
            .map(|f| crate::sys::fs::fs_magic(f.filesystem_type()))
    })?;
    Some(Stamp::of(Path::new(CACHE_NAME), st, fs))
}

/// [`read`] with `t0`, the real time taken before the cache was opened.
///
/// The checksum of a large blob is the largest part of a call with a
/// large policy, so it is verified once per cache file, not at every
/// read: the call that verifies a blob whose stamp is settled
/// ([`stamp::settled`]: the file unchanged for 3 s) writes a memo of its
/// stamp and checksum (`policy.cache.ok`, root 0600, atomically), and a
/// call that finds the blob with that same settled stamp and checksum
/// skips the hash. Every change of the blob's bytes changes its stamp
/// (git's "racy clean" rule, as for the policy files; the cache is only
/// ever replaced whole, by a rename, which is another inode), so the
/// memo stands for a verified blob and nothing else. The structure is
/// checked either way, and the key compared as always.
pub fn read_at(dir: BorrowedFd<'_>, t0: i128) -> Result<Compiled, Stale> {
    let rules = PrivateRead {
        owner: FileOwner::Uid(0),
        mode: ModeRule::Exactly(0o600),
        single_link: true,
        max_len: MAX_CACHE_BYTES,
    };
    let untrusted = |e: PrivateError| match e {
        e if e.is_not_found() => Stale::Missing,
        PrivateError::Owner { uid } => Stale::Untrusted(format!("owned by uid {uid}")),
        PrivateError::Mode { mode } => Stale::Untrusted(format!("mode {mode:04o}")),
        other => Stale::Untrusted(format!("{other:?}")),
    };
    let (fd, st) = open_private_at(dir, OsStr::new(CACHE_NAME), &rules).map_err(untrusted)?;
    let len = st.st_size.max(0) as usize;
    if len < MEMO_MIN_BYTES {
        // Small: read (cheaper than a mapping) and hashed. Not a secret:
        // taken out of the zeroizing buffer, not copied.
        let mut blob = read_private_fd(fd, &st, MAX_CACHE_BYTES).map_err(untrusted)?;
        return Compiled::parse(std::mem::take(&mut *blob)).ok_or(Stale::Corrupt);
    }
    // Large: mapped from the page cache, not copied (src/sys/map.rs: the
    // file is root's 0600 and only ever replaced by a rename).
    let blob = Blob::Mapped(
        Mapping::of(fd.as_fd(), len).map_err(|e| Stale::Untrusted(format!("mmap: {e}")))?,
    );
    let settled = blob_stamp(dir, &st).filter(|s| stamp::settled(std::slice::from_ref(s), t0));
    let Some(s) = settled else {
        return Compiled::parse_checked(blob, true).ok_or(Stale::Corrupt);
    };
    let want = memo_bytes(&s, &blob[len - 32..]);
    let memo_rules = PrivateRead {
        max_len: want.len() as u64,
        ..rules
    };
    let vouched = matches!(
        read_private_at(dir, OsStr::new(VERIFIED_NAME), &memo_rules),
        Ok((memo, _)) if memo.as_slice() == want.as_slice()
    );
    if vouched {
        crate::base::testhook::point("policy-cache-vouched");
        return Compiled::parse_checked(blob, false).ok_or(Stale::Corrupt);
    }
    let c = Compiled::parse_checked(blob, true).ok_or(Stale::Corrupt)?;
    // A memo that cannot be written only costs the next call the hash.
    let _ = replace_at(dir, OsStr::new(VERIFIED_NAME), &want, &Replace::SCRATCH);
    Ok(c)
}

/// Write the cache (root 0600, atomically: a reader sees the old or the
/// new blob). A planted file of that name is replaced, never reused.
pub fn write(dir: BorrowedFd<'_>, blob: &[u8]) -> Result<(), String> {
    replace_at(dir, OsStr::new(CACHE_NAME), blob, &Replace::SCRATCH).map_err(|e| e.to_string())
}

/// What [`load`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The cache was used: the policy holds the caller's rules only.
    Hit,
    /// The cache was used on the files' settled stamps, without reading
    /// or hashing them ([`load_installed`]): the caller's rules only.
    Stamped,
    /// The cache says this policy cannot be cut: parsed whole.
    Whole,
    /// Parsed whole and the cache (re)written, because of this.
    Rebuilt(Stale),
}

/// A policy loaded through the cache.
#[derive(Debug)]
pub struct Cached {
    /// `loaded.policy` holds only the caller's rules when `partial`;
    /// `hash` and `raw` are always the whole policy's.
    pub loaded: Loaded,
    pub partial: bool,
    pub outcome: Outcome,
    /// The files' stamps when they were settled (taken before anything
    /// was read): the TOCTOU recheck may compare stamps instead of bytes
    /// ([`crate::policy::load::recheck_stamped`]).
    pub settled: Option<Vec<Stamp>>,
    /// The files' text, when this call read it (not on the stamp path).
    pub sources: Option<Sources>,
}

/// Load the policy from `sources` (already read with the secure-open
/// checks) for one caller, through the cache in `state_dir`.
/// `fill_groups` fills the caller's group names (an NSS lookup per group)
/// when a rule names a group by name.
pub fn load(
    sources: &Sources,
    state_dir: Option<BorrowedFd<'_>>,
    caller: &mut Caller,
    fill_groups: impl FnMut(&mut Caller),
) -> Result<Cached, PolicyError> {
    load_with(
        sources,
        state_dir,
        state_dir.map(read),
        caller,
        fill_groups,
        None,
    )
}

/// Load the installed policy (main file and drop-ins in `conf_dir`, with
/// the secure-open checks) for one caller, through the cache. When every
/// file's stamp is settled ([`stamp::settled`]) and equal to the stamps
/// the cache holds, the files are not read nor hashed: only the
/// candidate rules' text is read, at its positions (the stamp path; a
/// large policy costs what a small one does). Otherwise the files are
/// read and hashed ([`load`]), and a cache whose key matches gets the
/// settled stamps for the next calls. `conf` is `conf_dir` opened by
/// [`crate::policy::load::open_conf_dir`].
pub fn load_installed(
    conf_dir: &Path,
    conf: BorrowedFd<'_>,
    state_dir: Option<BorrowedFd<'_>>,
    caller: &mut Caller,
    mut fill_groups: impl FnMut(&mut Caller),
) -> Result<Cached, PolicyError> {
    let t0 = stamp::now();
    let opened = open_sources_in(conf, conf_dir)?;
    let stamps: Vec<Stamp> = opened.iter().map(|o| o.stamp.clone()).collect();
    let settled = stamp::settled(&stamps, t0).then_some(stamps);
    let enc = settled.as_deref().map(encode_all).unwrap_or_default();
    let cache = state_dir.map(|d| read_at(d, t0));
    if let Some(Ok(c)) = &cache
        && c.indexed
        && c.stamped_by(&enc)
        && c.key == cache_key(&c.raw, &build_identity())
    {
        crate::base::testhook::point("policy-stamped");
        if c.names_groups {
            fill_groups(caller);
        }
        let ids = c.candidates(caller);
        // A piece that does not parse: read and hash, as without stamps.
        if let Ok(policy) = c.assemble(&ids) {
            return Ok(Cached {
                loaded: Loaded {
                    policy,
                    hash: c.hash,
                    raw: c.raw,
                },
                partial: true,
                outcome: Outcome::Stamped,
                settled,
                sources: None,
            });
        }
    }
    let sources = read_opened(&opened)?;
    let mut cached = load_with(
        &sources,
        state_dir,
        cache,
        caller,
        fill_groups,
        settled.as_deref(),
    )?;
    cached.settled = settled;
    cached.sources = Some(sources);
    Ok(cached)
}

/// [`load`] with the cache already read, and the files' settled stamps
/// (if any) for the cache.
fn load_with(
    sources: &Sources,
    state_dir: Option<BorrowedFd<'_>>,
    cache: Option<Result<Compiled, Stale>>,
    caller: &mut Caller,
    mut fill_groups: impl FnMut(&mut Caller),
    settled: Option<&[Stamp]>,
) -> Result<Cached, PolicyError> {
    let raw = raw_digest(sources);
    let key = cache_key(&raw, &build_identity());
    let stale = match cache {
        Some(Ok(c)) if c.key == key && c.raw == raw => {
            // The bytes just hashed are the cache's: their settled stamps
            // let the next calls skip reading them (written once).
            if let (Some(st), Some(dir)) = (settled, state_dir) {
                let enc = encode_all(st);
                if !c.stamped_by(&enc) {
                    let _ = write(dir, &c.restamped(&enc));
                }
            }
            if c.indexed {
                if c.names_groups {
                    fill_groups(caller);
                }
                let ids = c.candidates(caller);
                if let Ok(policy) = c.assemble(&ids) {
                    return Ok(Cached {
                        loaded: Loaded {
                            policy,
                            hash: c.hash,
                            raw,
                        },
                        partial: true,
                        outcome: Outcome::Hit,
                        settled: None,
                        sources: None,
                    });
                }
                Stale::Corrupt
            } else {
                let loaded = parse_sources(sources)?;
                if c.names_groups {
                    fill_groups(caller);
                }
                return Ok(Cached {
                    loaded,
                    partial: false,
                    outcome: Outcome::Whole,
                    settled: None,
                    sources: None,
                });
            }
        }
        Some(Ok(_)) => Stale::Key,
        Some(Err(e)) => e,
        None => Stale::Missing,
    };
    let loaded = parse_sources(sources)?;
    if let Some(dir) = state_dir {
        // A cache that cannot be written only costs the next call time.
        let _ = write(dir, &compile_stamped(sources, &loaded, &key, settled));
    }
    if Index::build(&loaded.policy.rules).names_groups() {
        fill_groups(caller);
    }
    Ok(Cached {
        loaded,
        partial: false,
        outcome: Outcome::Rebuilt(stale),
        settled: None,
        sources: None,
    })
}

/// For the fuzz target `policy_piece` (fuzz/README.md): `b` read as a
/// parsed piece of the policy file `file`, and that piece written again.
/// `None` when `b` is not a piece; when it is, the form being canonical,
/// the bytes written are `b` itself.
#[doc(hidden)]
pub fn piece_round_trip(b: &[u8], file: &Path) -> Option<(PolicyFragment, Vec<u8>)> {
    let f = wire::decode(b, file)?;
    let again = wire::encode(&f);
    Some((f, again))
}

/// The binary form of the piece parsed from `text` (fuzz seeds, tests).
#[doc(hidden)]
pub fn piece_bytes(text: &str, file: &Path) -> Result<Vec<u8>, PolicyError> {
    parse_policy(text, file).map(|f| wire::encode(&f))
}

/// For tests and tools: the installed policy's cache path.
pub fn path() -> PathBuf {
    Path::new(crate::base::paths::RUN_DIR).join(CACHE_NAME)
}

#[cfg(test)]
mod tests;
mod wire;
