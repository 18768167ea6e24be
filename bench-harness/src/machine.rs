//! What the measurements were taken on, for captions and reproducibility.

use std::fmt;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The machine, build and source revision a report was measured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical cores the OS offers this process (`available_parallelism`).
    pub logical_cores: usize,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub os: String,
    /// CPU model from `/proc/cpuinfo`, or `unknown`.
    pub cpu_model: String,
    /// `release` or `debug` (timings from a debug build are not meaningful).
    pub build_profile: String,
    /// `git rev-parse --short HEAD`, with `-dirty` when the tree has changes, or `unknown`.
    pub git_revision: String,
    /// When the run started, UTC, ISO 8601 (`2026-01-31T12:00:00Z`).
    pub date_utc: String,
}

impl Machine {
    /// Describes the current machine, build and checkout.
    pub fn detect() -> Machine {
        Machine {
            logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpu_model: cpu_model().unwrap_or_else(|| "unknown".to_owned()),
            build_profile: if cfg!(debug_assertions) { "debug" } else { "release" }.to_owned(),
            git_revision: git_revision().unwrap_or_else(|| "unknown".to_owned()),
            date_utc: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or_else(|_| "unknown".to_owned(), |d| iso8601_utc(d.as_secs())),
        }
    }

    /// One line for chart captions.
    pub fn caption(&self) -> String {
        format!(
            "{} · {} logical cores · {} · {} build · rev {} · {}",
            self.cpu_model, self.logical_cores, self.os, self.build_profile, self.git_revision, self.date_utc
        )
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.caption())
    }
}

fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

fn git_revision() -> Option<String> {
    let run = |args: &[&str]| {
        let output = Command::new("git").args(args).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let revision = run(&["rev-parse", "--short", "HEAD"]).filter(|r| !r.is_empty())?;
    let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{revision}-dirty") } else { revision })
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso8601_utc(epoch_seconds: u64) -> String {
    let days = (epoch_seconds / 86_400) as i64;
    let second_of_day = epoch_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day in a century leap year) 12:34:56.
        assert_eq!(iso8601_utc(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(iso8601_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(iso8601_utc(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn detect_reports_at_least_one_core_and_the_profile() {
        let machine = Machine::detect();
        assert!(machine.logical_cores >= 1);
        assert_eq!(machine.build_profile == "debug", cfg!(debug_assertions));
        assert!(!machine.cpu_model.is_empty());
        assert!(machine.caption().contains(&machine.git_revision));
    }
}
