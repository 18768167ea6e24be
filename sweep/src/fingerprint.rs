//! Fingerprints: what a results file was computed from.
//!
//! A *sweep* fingerprint covers the space and the task (a results file
//! belongs to exactly one); a *task* fingerprint covers only what is
//! evaluated, so records computed for one space can be reused by another
//! space with the same command (a refined grid, a new axis value): a record
//! is keyed by (task fingerprint, point identity).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::hash::Fnv1a64;
use crate::space::Space;
use crate::spec::Task;

/// A 64-bit FNV-1a hash, written as 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// The fingerprint of a sweep: what is computed where, not how (worker
    /// count, chunking and timeouts may change between runs).
    pub fn of_sweep(space: &Space, task: &Task) -> Fingerprint {
        let mut hash = Fnv1a64::new();
        // serde_json's output for these types is deterministic: struct
        // fields in declaration order, floats in shortest round-trip form.
        hash.write_str(&serde_json::to_string(space).unwrap_or_default());
        hash.write_str(&serde_json::to_string(task).unwrap_or_default());
        Fingerprint(hash.finish())
    }

    /// The fingerprint of what is evaluated at each point, whatever the
    /// space: records with the same task fingerprint and point identity are
    /// interchangeable.
    pub fn of_task(task: &Task) -> Fingerprint {
        let mut hash = Fnv1a64::new();
        hash.write_str(&serde_json::to_string(task).unwrap_or_default());
        Fingerprint(hash.finish())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        u64::from_str_radix(&text, 16)
            .map(Fingerprint)
            .map_err(|e| serde::de::Error::custom(format!("fingerprint {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_fingerprints_change_with_space_and_command() {
        let echo = |arg: &str| Task::Command(vec!["echo".into(), arg.into()]);
        let a = Fingerprint::of_sweep(&Space::range("k", 0, 4), &echo("{k}"));
        let b = Fingerprint::of_sweep(&Space::range("k", 0, 4), &echo("{k}!"));
        let c = Fingerprint::of_sweep(&Space::range("k", 0, 5), &echo("{k}"));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, Fingerprint::of_sweep(&Space::range("k", 0, 4), &echo("{k}")));
        assert_eq!(Fingerprint::of_task(&echo("{k}")), Fingerprint::of_task(&echo("{k}")));
        assert_ne!(Fingerprint::of_task(&echo("{k}")), Fingerprint::of_task(&echo("{k}!")));
    }

    #[test]
    fn one_shot_and_persistent_runs_of_one_argv_are_different_sweeps() {
        let argv = vec!["./bb".to_owned()];
        let (one_shot, persistent) = (Task::Command(argv.clone()), Task::Persistent(argv));
        assert_ne!(Fingerprint::of_task(&one_shot), Fingerprint::of_task(&persistent));
        let space = Space::range("k", 0, 4);
        assert_ne!(Fingerprint::of_sweep(&space, &one_shot), Fingerprint::of_sweep(&space, &persistent));
        // What files of format 3 and older hold, for either mode: it must
        // keep its fingerprint, read as one-shot.
        assert_eq!(serde_json::to_string(&one_shot).ok().as_deref(), Some(r#"{"Command":["./bb"]}"#));
        assert_eq!(Fingerprint::of_task(&one_shot), Fingerprint(0x6e96_731a_e931_03d1));
    }

    #[test]
    fn text_form_round_trips() {
        let f = Fingerprint(0x0123_4567_89ab_cdef);
        let json = serde_json::to_string(&f).unwrap_or_default();
        assert_eq!(json, "\"0123456789abcdef\"");
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).ok(), Some(f));
    }
}
