//! The keyed MAC over the audit chain, with forward-secure epoch keys.
//!
//! * `mac_n = BLAKE3-keyed(K_e, h_n)` where `e` is the record's `epoch`
//!   field (covered by `h_n`) and `h_n` its chain hash (32 raw bytes).
//! * `K_{e+1} = BLAKE3-derive-key("belladonna audit key evolution", K_e)`:
//!   one-way, so a host compromised in epoch `e` cannot recompute the
//!   MACs of earlier epochs (their keys were overwritten on rotation).
//! * The verifier holds `K_0` (exported once, kept off the host) and
//!   derives `K_e` forward.
//!
//! See `docs/audit-format.md` section 3.1.
#![forbid(unsafe_code)]

use zeroize::Zeroize;

/// Context string of the key evolution step.
pub const EVOLUTION_CONTEXT: &str = "belladonna audit key evolution";

/// Most evolution steps the verifier takes from `K_0` to reach the first
/// epoch of a log (a bound on the work a hostile `epoch` value can cause).
pub const MAX_EPOCH_STEPS: u64 = 1 << 24;

/// An audit MAC key and the epoch it belongs to. The key bytes are
/// zeroed on drop; `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochKey {
    epoch: u64,
    key: [u8; 32],
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EpochKey {{ epoch: {}, key: <secret> }}", self.epoch)
    }
}

impl Drop for EpochKey {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl EpochKey {
    /// A key for `epoch`.
    pub fn new(epoch: u64, key: [u8; 32]) -> Self {
        EpochKey { epoch, key }
    }

    /// Its epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The secret bytes (for writing the key file).
    pub fn secret(&self) -> &[u8; 32] {
        &self.key
    }

    /// `K_{e+1}`, or `None` when the epoch would overflow.
    pub fn evolve(&self) -> Option<EpochKey> {
        let epoch = self.epoch.checked_add(1)?;
        Some(EpochKey {
            epoch,
            key: blake3::derive_key(EVOLUTION_CONTEXT, &self.key),
        })
    }

    /// Evolve until `epoch` (at most [`MAX_EPOCH_STEPS`] steps); `None`
    /// when `epoch` is before this key's or too far ahead.
    pub fn evolve_to(&self, epoch: u64) -> Option<EpochKey> {
        let steps = epoch.checked_sub(self.epoch)?;
        if steps > MAX_EPOCH_STEPS {
            return None;
        }
        let mut k = self.clone();
        for _ in 0..steps {
            k = k.evolve()?;
        }
        Some(k)
    }

    /// The MAC of chain hash `h`.
    pub fn mac(&self, h: &[u8; 32]) -> [u8; 32] {
        *blake3::keyed_hash(&self.key, h).as_bytes()
    }

    /// Constant-time check of `mac` against `h`.
    pub fn mac_ok(&self, h: &[u8; 32], mac: &[u8; 32]) -> bool {
        blake3::Hash::from(*mac) == blake3::keyed_hash(&self.key, h)
    }

    /// A short public fingerprint of the key (BLAKE3 derive-key over it,
    /// 16 hex digits): safe to print, identifies the key.
    pub fn fingerprint(&self) -> String {
        let d = blake3::derive_key("belladonna key fingerprint v1", &self.key);
        super::chain::hex(&d[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evolution_is_one_way_and_deterministic() {
        let k0 = EpochKey::new(0, [7; 32]);
        let k1 = k0.evolve().expect("k1");
        assert_eq!(k1.epoch(), 1);
        assert_eq!(
            k1.secret(),
            &blake3::derive_key("belladonna audit key evolution", &[7; 32])
        );
        let k3 = k0.evolve_to(3).expect("k3");
        assert_eq!(k3, k1.evolve().and_then(|k| k.evolve()).expect("k3"));
        assert!(k3.evolve_to(2).is_none(), "no going back");
        assert!(k0.evolve_to(MAX_EPOCH_STEPS + 1).is_none());
        assert!(EpochKey::new(u64::MAX, [0; 32]).evolve().is_none());
        assert!(!format!("{k0:?}").contains("7"));
    }

    #[test]
    fn mac_definition() {
        let k = EpochKey::new(2, [9; 32]);
        let h = [1u8; 32];
        let m = k.mac(&h);
        assert_eq!(m, *blake3::keyed_hash(&[9; 32], &h).as_bytes());
        assert!(k.mac_ok(&h, &m));
        assert!(!k.mac_ok(&[2; 32], &m));
        assert!(!k.evolve().expect("k").mac_ok(&h, &m));
        assert_eq!(k.fingerprint().len(), 16);
    }
}
