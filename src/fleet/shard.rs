//! `--shard I/N`: a stable slice of the fleet, so that N machines (or the N pods of a
//! Kubernetes Indexed Job) each take their share and none takes a tenant twice.
//!
//! A tenant belongs to shard `first 8 bytes of SHA-256(slug), big-endian, mod N`. It depends on
//! the slug alone, so adding or removing a tenant moves no other tenant, and every machine
//! computes the same slices from the same fleet file. `k8s/N` takes `I` from
//! `JOB_COMPLETION_INDEX`, which Kubernetes sets in each pod of an Indexed Job.

use anyhow::{bail, Result};
use sha2::{Digest, Sha256};

/// One slice of a fleet: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// The variable Kubernetes sets to a pod's index in an Indexed Job.
pub const K8S_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

impl Shard {
    /// Parses `I/N` or `k8s/N`; `env` reads a variable (the process environment in use).
    pub fn parse(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let Some((i, n)) = s.split_once('/') else {
            bail!("--shard {s:?}: expected I/N (e.g. 0/4) or k8s/N");
        };
        let count: u64 = match n.trim().parse() {
            Ok(n) if n >= 1 => n,
            _ => bail!("--shard {s:?}: N must be a whole number of shards, at least 1"),
        };
        let index: u64 = if i.trim() == "k8s" {
            match env(K8S_INDEX_VAR) {
                Some(v) => match v.trim().parse() {
                    Ok(i) => i,
                    Err(_) => bail!("--shard {s}: {K8S_INDEX_VAR}={v:?} is not a whole number"),
                },
                None => bail!(
                    "--shard {s}: {K8S_INDEX_VAR} is not set (it is set in the pods of a Kubernetes Job with completionMode: Indexed)"
                ),
            }
        } else {
            match i.trim().parse() {
                Ok(i) => i,
                Err(_) => bail!("--shard {s:?}: I must be a whole number from 0 to N-1"),
            }
        };
        if index >= count {
            bail!(
                "--shard {s}: shard {index} does not exist among {count} (shards are numbered 0 to {})",
                count - 1
            );
        }
        Ok(Shard { index, count })
    }

    /// The shard a slug belongs to among `count`.
    pub fn of(slug: &str, count: u64) -> u64 {
        let h = Sha256::digest(slug.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h[..8]);
        u64::from_be_bytes(first) % count
    }

    pub fn contains(&self, slug: &str) -> bool {
        Shard::of(slug, self.count) == self.index
    }

    /// The state directory name of this shard: `shard-I-of-N`.
    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slugs(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("tenant-{i:03}")).collect()
    }

    #[test]
    fn every_slug_is_in_exactly_one_shard() {
        let all = slugs(200);
        for n in 1..=8u64 {
            for s in &all {
                let holders = (0..n)
                    .filter(|&i| Shard { index: i, count: n }.contains(s))
                    .count();
                assert_eq!(holders, 1, "{s} in {holders} of {n} shards");
            }
            // No shard of 200 is empty for these N (the hash spreads them).
            for i in 0..n {
                assert!(all.iter().any(|s| Shard { index: i, count: n }.contains(s)));
            }
        }
    }

    #[test]
    fn adding_a_slug_moves_no_other() {
        let all = slugs(200);
        let before: Vec<u64> = all.iter().map(|s| Shard::of(s, 5)).collect();
        let mut more = all.clone();
        more.insert(17, "a-new-customer".into());
        let after: Vec<u64> = all.iter().map(|s| Shard::of(s, 5)).collect();
        assert_eq!(before, after);
        assert!(Shard::of("a-new-customer", 5) < 5);
    }

    #[test]
    fn parses_i_of_n_and_k8s_and_refuses_the_impossible() {
        let none = |_: &str| None;
        assert_eq!(
            Shard::parse("1/4", none).unwrap(),
            Shard { index: 1, count: 4 }
        );
        let env = |k: &str| (k == K8S_INDEX_VAR).then(|| "3".to_string());
        assert_eq!(
            Shard::parse("k8s/4", env).unwrap(),
            Shard { index: 3, count: 4 }
        );
        for bad in ["4/4", "1/0", "x/2", "2", "-1/3", "k8s/x"] {
            assert!(Shard::parse(bad, none).is_err(), "{bad}");
        }
        let m = format!("{:#}", Shard::parse("k8s/4", none).unwrap_err());
        assert!(m.contains(K8S_INDEX_VAR), "{m}");
        assert_eq!(Shard { index: 2, count: 3 }.dir_name(), "shard-2-of-3");
    }
}
