//! Haze, timing (issue 15): a decoy hit and an ordinary denial cannot be
//! told apart by the caller's wall time. 1,000 probes of each, in random
//! interleaved order, compared with a two-sample Kolmogorov-Smirnov test
//! (implemented here); the test passes when p > 0.01, and may retry once
//! (a correct implementation fails a p > 0.01 test 1% of the time).
//! `HAZE_PROBES=N` changes the number of probes of each kind.

#[macro_use]
mod common;
use common::*;
use std::time::Instant;

/// The two-sample Kolmogorov-Smirnov statistic D = sup |F_a - F_b|.
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// The asymptotic p-value of D for samples of sizes n and m (Kolmogorov
/// distribution with Stephens' small-sample correction).
fn ks_p_value(d: f64, n: usize, m: usize) -> f64 {
    let ne = (n * m) as f64 / (n + m) as f64;
    let lambda = (ne.sqrt() + 0.12 + 0.11 / ne.sqrt()) * d;
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let jf = f64::from(j);
        let term = 2.0 * (-2.0 * jf * jf * lambda * lambda).exp();
        sum += if j % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    sum.clamp(0.0, 1.0)
}

#[test]
fn ks_implementation_sanity() {
    // Same distribution: large p; shifted: tiny p.
    let a: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1000.0).collect();
    let b: Vec<f64> = (0..1000).map(|i| (f64::from(i) + 0.5) / 1000.0).collect();
    let c: Vec<f64> = a.iter().map(|x| x + 0.2).collect();
    assert!(ks_statistic(&a, &b) < 0.01);
    assert!(ks_p_value(ks_statistic(&a, &b), 1000, 1000) > 0.99);
    assert!((ks_statistic(&a, &c) - 0.2).abs() < 0.01);
    assert!(ks_p_value(ks_statistic(&a, &c), 1000, 1000) < 1e-10);
    // The 1% critical value for n = m = 1000 is about 0.0728.
    let p = ks_p_value(0.0728, 1000, 1000);
    assert!((0.008..0.012).contains(&p), "{p}");
}

/// xorshift64*: the interleaving order (no dependency for a coin).
struct Coin(u64);
impl Coin {
    fn flip(&mut self) -> bool {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 63 == 1
    }
}

fn probe_round(env: &TestEnv, n: usize, seed: u64) -> f64 {
    let mut coin = Coin(seed | 1);
    let (mut decoy, mut denial) = (Vec::with_capacity(n), Vec::with_capacity(n));
    while decoy.len() < n || denial.len() < n {
        let pick_decoy = if decoy.len() == n {
            false
        } else if denial.len() == n {
            true
        } else {
            coin.flip()
        };
        let cmd = if pick_decoy {
            "/usr/bin/base32"
        } else {
            "/usr/bin/nproc"
        };
        let t = Instant::now();
        let o = env.run_as_user("alice", &[cmd]);
        let dt = t.elapsed().as_secs_f64();
        o.expect_refusal(1, cmd);
        if pick_decoy {
            decoy.push(dt);
        } else {
            denial.push(dt);
        }
    }
    let d = ks_statistic(&decoy, &denial);
    let p = ks_p_value(d, n, n);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64 * 1000.0;
    loud(&format!(
        "haze: {n} probes each: mean decoy {:.3} ms, denial {:.3} ms, D = {d:.4}, p = {p:.4}",
        mean(&decoy),
        mean(&denial)
    ));
    p
}

#[test]
fn decoy_and_denial_take_the_same_time() {
    let Some(env) = TestEnv::new("haze::decoy_and_denial_take_the_same_time") else {
        return;
    };
    env.policy(
        r#"version = 1
[[rule]]
name = "id"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "none"

[[decoy]]
name = "base32"
users = ["alice"]
commands = ["/usr/bin/base32"]
auth = "none"
"#,
    );
    let n: usize = std::env::var("HAZE_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    let p = probe_round(&env, n, seed);
    if p > 0.01 {
        return;
    }
    let p2 = probe_round(&env, n, seed.rotate_left(17));
    assert!(
        p2 > 0.01,
        "decoy hits and denials differ in timing (p = {p}, then {p2})"
    );
}
