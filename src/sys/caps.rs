//! The calling thread's capability sets as bit masks: capget(2) and
//! capset(2) on all three at once, and the per-capability prctl(2)s of
//! the bounding and ambient sets.
//!
//! The `caps` crate reads and writes one set at a time through a hash
//! set: each change is a capget and a capset, a raise two of each, and
//! reading the bounding or ambient set asks the kernel about every
//! capability it knows (41 prctls, 82 for the ambient set). bdexec
//! changes its sets around every id change of a call; here a change is
//! one capget and one capset, or a capset alone when the caller already
//! holds the sets it read. Bit `n` of a mask is capability number `n`
//! (`caps::Capability::bitmask`).

use nix::errno::Errno;

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, two 32-bit halves each.
const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The three capability sets of a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

impl CapSets {
    /// The first of the permitted, effective and inheritable sets that
    /// holds a capability, by name; `None` when all three are empty.
    pub fn first_held(&self) -> Option<&'static str> {
        [
            ("Permitted", self.permitted),
            ("Effective", self.effective),
            ("Inheritable", self.inheritable),
        ]
        .into_iter()
        .find_map(|(name, bits)| (bits != 0).then_some(name))
    }
}

/// The calling thread's sets.
pub fn get() -> nix::Result<CapSets> {
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget(2) with a version-3 header writes exactly two
    // `__user_cap_data_struct`s (the `Data` layout, repr(C)) to the data
    // pointer, which points at an array of two; the header is read (and,
    // on a version mismatch, its version written) in place. Both live
    // across the call and the kernel keeps no pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    Errno::result(r)?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// Make the calling thread's sets `sets` (the kernel's rules apply:
/// permitted can only shrink, effective must lie within permitted, ...).
pub fn set(sets: CapSets) -> nix::Result<()> {
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let half = |shift: u32| Data {
        effective: (sets.effective >> shift) as u32,
        permitted: (sets.permitted >> shift) as u32,
        inheritable: (sets.inheritable >> shift) as u32,
    };
    let data = [half(0), half(32)];
    // SAFETY: capset(2) with a version-3 header reads two
    // `__user_cap_data_struct`s from the data pointer, which points at
    // an array of two `Data` (repr(C), the same layout); pid 0 is the
    // calling thread. Both live across the call; nothing is kept.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    Errno::result(r).map(drop)
}

/// Read the sets, change them with `f`, write them: one capget and one
/// capset. Returns the sets as they were.
pub fn update(f: impl FnOnce(CapSets) -> CapSets) -> nix::Result<CapSets> {
    let was = get()?;
    set(f(was))?;
    Ok(was)
}

/// Every set empty: the ambient set cleared, the three others set to
/// nothing, then read back; returns what is left (all zero unless the
/// kernel refused). The ambient set needs no reading back: the kernel
/// keeps it within permitted and inheritable (capabilities(7)).
pub fn clear_all() -> nix::Result<CapSets> {
    ambient_clear_all()?;
    set(CapSets::default())?;
    get()
}

/// `PR_CAPBSET_DROP` of capability `cap` (EINVAL: the kernel has no
/// such capability).
pub fn bounding_drop(cap: u8) -> nix::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes the capability number, no pointers.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    Errno::result(r).map(drop)
}

/// `PR_CAPBSET_READ`: whether `cap` is in the bounding set (EINVAL: the
/// kernel has no such capability).
pub fn bounding_has(cap: u8) -> nix::Result<bool> {
    // SAFETY: PR_CAPBSET_READ takes the capability number, no pointers.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap), 0, 0, 0) };
    Errno::result(r).map(|r| r == 1)
}

/// `PR_CAP_AMBIENT_CLEAR_ALL`.
pub fn ambient_clear_all() -> nix::Result<()> {
    // SAFETY: PR_CAP_AMBIENT with PR_CAP_AMBIENT_CLEAR_ALL takes no
    // pointers; the unused arguments must be 0.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    Errno::result(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_agrees_with_the_caps_crate_and_set_round_trips() {
        let sets = get().expect("capget");
        let mask = |set| {
            caps::read(None, set)
                .expect("caps::read")
                .iter()
                .fold(0u64, |m, c| m | c.bitmask())
        };
        assert_eq!(sets.effective, mask(caps::CapSet::Effective));
        assert_eq!(sets.permitted, mask(caps::CapSet::Permitted));
        assert_eq!(sets.inheritable, mask(caps::CapSet::Inheritable));
        // Writing back what was read changes nothing and is allowed.
        set(sets).expect("capset of the sets as they are");
        assert_eq!(get().expect("capget"), sets);
        // Adding to permitted is not (unless nothing is missing).
        if sets.permitted != u64::MAX {
            let more = CapSets {
                permitted: u64::MAX,
                ..sets
            };
            assert!(set(more).is_err());
        }
    }

    #[test]
    fn first_held_names_the_first_non_empty_set() {
        let none = CapSets::default();
        assert_eq!(none.first_held(), None);
        let inh = CapSets {
            inheritable: 1 << 40,
            ..none
        };
        assert_eq!(inh.first_held(), Some("Inheritable"));
        let eff = CapSets {
            effective: 1,
            ..inh
        };
        assert_eq!(eff.first_held(), Some("Effective"));
        let all = CapSets {
            permitted: 1 << 63,
            ..eff
        };
        assert_eq!(all.first_held(), Some("Permitted"));
    }

    /// `PR_CAPBSET_READ` answers up to the kernel's last capability and
    /// EINVAL past it (the end the bounding-set loops stop at).
    #[test]
    fn bounding_set_ends_at_the_last_capability() {
        let last: u8 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .expect("cap_last_cap")
            .trim()
            .parse()
            .expect("a number");
        for n in 0..=last {
            assert!(bounding_has(n).is_ok(), "{n}");
        }
        assert_eq!(bounding_has(last + 1), Err(Errno::EINVAL));
        assert_eq!(bounding_drop(last + 1), Err(Errno::EINVAL));
    }
}
