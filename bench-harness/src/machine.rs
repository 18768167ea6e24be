//! What the measurements were taken on, for captions and reproducibility:
//! the machine, the build (baked in at compile time by `build.rs`, so the
//! record names this project's revision wherever the harness runs), and the
//! load on the machine around each experiment.

use std::collections::HashSet;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The project's git revision when the harness was built (`-dirty` when
/// tracked files differed from it), or `unknown`.
pub const GIT_REVISION: &str = env!("PARSWEEP_GIT_REVISION");

/// A 1-minute load average above this many runnable threads per logical
/// core at the start of an experiment gets a warning.
pub const LOAD_WARNING_PER_CORE: f64 = 0.25;

/// Other processes using more than this share of all cores during an
/// experiment get a warning.
pub const FOREIGN_CPU_WARNING: f64 = 0.10;

/// The machine, build and source revision a report was measured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical cores the OS offers this process (`available_parallelism`:
    /// affinity masks and cgroup quotas included).
    pub logical_cores: usize,
    /// Physical cores (distinct core ids in `/proc/cpuinfo`), if known.
    #[serde(default)]
    pub physical_cores: Option<usize>,
    /// Simultaneous multithreading (hyper-threading) active, if known.
    #[serde(default)]
    pub smt: Option<bool>,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub os: String,
    /// Kernel release (`/proc/sys/kernel/osrelease`), or `unknown`.
    #[serde(default)]
    pub kernel: String,
    /// CPU model from `/proc/cpuinfo`, or `unknown`.
    pub cpu_model: String,
    /// cpufreq scaling governor of CPU 0 (`performance`, `powersave`, ...), if readable.
    #[serde(default)]
    pub governor: Option<String>,
    /// Turbo/boost state (`on`/`off`), if readable.
    #[serde(default)]
    pub boost: Option<String>,
    /// Host name.
    #[serde(default)]
    pub hostname: String,
    /// `release` or `debug` (timings from a debug build are not meaningful).
    pub build_profile: String,
    /// `rustc --version` of the compiler that built the harness.
    #[serde(default)]
    pub rustc: String,
    /// Target triple the harness was built for.
    #[serde(default)]
    pub target: String,
    /// `-C target-cpu` of the build (`generic` when not set).
    #[serde(default)]
    pub target_cpu: String,
    /// This project's revision at build time ([`GIT_REVISION`]).
    pub git_revision: String,
    /// The revision of the code a bench of yours measures, when it says
    /// ([`crate::custom::Registry::code_revision`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_revision: Option<String>,
    /// When the run started, UTC, ISO 8601 (`2026-01-31T12:00:00Z`).
    pub date_utc: String,
}

impl Machine {
    /// Describes the current machine and this build.
    pub fn detect() -> Machine {
        let logical_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let physical_cores = physical_cores();
        Machine {
            logical_cores,
            physical_cores,
            smt: smt_active().or_else(|| physical_cores.map(|p| p < online_cpus().unwrap_or(logical_cores))),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".to_owned()),
            cpu_model: cpu_model().unwrap_or_else(|| "unknown".to_owned()),
            governor: read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            boost: boost(),
            hostname: read_trimmed("/proc/sys/kernel/hostname")
                .or_else(|| std::env::var("HOSTNAME").ok())
                .unwrap_or_else(|| "unknown".to_owned()),
            build_profile: if cfg!(debug_assertions) { "debug" } else { "release" }.to_owned(),
            rustc: env!("PARSWEEP_RUSTC_VERSION").to_owned(),
            target: env!("PARSWEEP_TARGET").to_owned(),
            target_cpu: env!("PARSWEEP_TARGET_CPU").to_owned(),
            git_revision: GIT_REVISION.to_owned(),
            code_revision: None,
            date_utc: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or_else(|_| "unknown".to_owned(), |d| iso8601_utc(d.as_secs())),
        }
    }

    /// The cores as `2 logical / 1 physical cores, SMT on`.
    pub fn cores_text(&self) -> String {
        let physical = self.physical_cores.map_or_else(String::new, |p| format!(" / {p} physical"));
        let smt = match self.smt {
            Some(true) => ", SMT on",
            Some(false) => ", SMT off",
            None => "",
        };
        format!("{} logical{physical} cores{smt}", self.logical_cores)
    }

    /// Frequency scaling as `governor performance, boost on`, or `frequency scaling not readable`.
    pub fn frequency_text(&self) -> String {
        match (&self.governor, &self.boost) {
            (None, None) => "cpufreq governor and boost not readable".to_owned(),
            (governor, boost) => format!(
                "governor {}, boost {}",
                governor.as_deref().unwrap_or("unknown"),
                boost.as_deref().unwrap_or("unknown")
            ),
        }
    }

    /// The build as `release build, rustc 1.80.0 (...), x86_64-unknown-linux-gnu, target-cpu generic`.
    pub fn build_text(&self) -> String {
        format!(
            "{} build, {}, {}, target-cpu {}, parsweep rev {}{}",
            self.build_profile,
            self.rustc,
            self.target,
            self.target_cpu,
            self.git_revision,
            self.code_revision.as_ref().map_or_else(String::new, |r| format!(", measured code rev {r}"))
        )
    }

    /// The reproducibility record for chart footers: machine, build, date.
    pub fn caption(&self) -> String {
        format!(
            "{} · {} · {} · {} {} · host {} · {} · {}",
            self.cpu_model,
            self.cores_text(),
            self.frequency_text(),
            self.os,
            self.kernel,
            self.hostname,
            self.build_text(),
            self.date_utc
        )
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.caption())
    }
}

/// The system load average (`/proc/loadavg`): runnable threads averaged
/// over 1, 5 and 15 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadAverage {
    /// 1-minute average.
    pub one: f64,
    /// 5-minute average.
    pub five: f64,
    /// 15-minute average.
    pub fifteen: f64,
}

impl LoadAverage {
    /// The current load average, if the OS exposes it.
    pub fn now() -> Option<LoadAverage> {
        parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
    }
}

impl fmt::Display for LoadAverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2} {:.2} {:.2}", self.one, self.five, self.fifteen)
    }
}

fn parse_loadavg(text: &str) -> Option<LoadAverage> {
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    Some(LoadAverage { one: fields.next()?.ok()?, five: fields.next()?.ok()?, fifteen: fields.next()?.ok()? })
}

/// The fields of two machine records that differ (the date and the
/// revision aside: a different revision is what a comparison of code is
/// for), as `field: A → B`.
pub fn machine_differences(a: &Machine, b: &Machine) -> Vec<String> {
    let fields: [(&str, String, String); 9] = [
        ("host", a.hostname.clone(), b.hostname.clone()),
        ("CPU", a.cpu_model.clone(), b.cpu_model.clone()),
        ("logical cores", a.logical_cores.to_string(), b.logical_cores.to_string()),
        ("kernel", a.kernel.clone(), b.kernel.clone()),
        ("rustc", a.rustc.clone(), b.rustc.clone()),
        ("build profile", a.build_profile.clone(), b.build_profile.clone()),
        ("target CPU", a.target_cpu.clone(), b.target_cpu.clone()),
        ("governor", a.governor.clone().unwrap_or_default(), b.governor.clone().unwrap_or_default()),
        ("boost", a.boost.clone().unwrap_or_default(), b.boost.clone().unwrap_or_default()),
    ];
    fields.into_iter().filter(|(_, x, y)| x != y).map(|(name, x, y)| format!("{name}: {x} → {y}")).collect()
}

/// CPU time counters, to tell this process's use of the cores from everyone else's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuTimes {
    /// Busy ticks of all CPUs (`/proc/stat`: user, nice, system, irq, softirq, steal).
    busy: u64,
    /// All ticks of all CPUs, idle and iowait included.
    total: u64,
    /// Ticks this process and its waited-for children ran (`/proc/self/stat`).
    own: u64,
    /// The length of a tick: USER_HZ, which `/proc` counts in.
    ticks_per_second: u64,
}

/// USER_HZ, the unit of `/proc`'s CPU times (`sysconf(_SC_CLK_TCK)`): 100 on
/// most Linux systems, but a kernel may be built with another.
pub fn ticks_per_second() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only reads a configuration value; no memory is shared.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if ticks > 0 {
            return ticks as u64;
        }
    }
    100
}

impl CpuTimes {
    /// The counters now, if the OS exposes them.
    pub fn now() -> Option<CpuTimes> {
        let (busy, total) = parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?)?;
        let own = parse_self_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        Some(CpuTimes { busy, total, own, ticks_per_second: ticks_per_second() })
    }

    /// CPU time this process (and its waited-for children) has used so far,
    /// in seconds.
    pub fn own_seconds(&self) -> f64 {
        self.own as f64 / self.ticks_per_second as f64
    }

    /// The share of all cores' time that *other* processes kept busy
    /// between `self` and `later`, 0 to 1.
    pub fn foreign_share(&self, later: &CpuTimes) -> Option<f64> {
        let total = later.total.checked_sub(self.total).filter(|&t| t > 0)?;
        let busy = later.busy.saturating_sub(self.busy);
        let own = later.own.saturating_sub(self.own);
        Some((busy.saturating_sub(own) as f64 / total as f64).clamp(0.0, 1.0))
    }
}

fn parse_proc_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|line| line.starts_with("cpu "))?;
    let values: Vec<u64> = line.split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0)).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let field = |i: usize| values.get(i).copied().unwrap_or(0);
    let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
    Some((busy, busy + field(3) + field(4)))
}

fn parse_self_stat(text: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces: fields restart after its ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime, cutime, cstime are fields 14–17, i.e. 11–14 after the name.
    let ticks = fields.get(11..15)?.iter().map(|f| f.parse::<i64>().unwrap_or(0).max(0) as u64).sum();
    Some(ticks)
}

/// The state of the machine around one experiment, and what it means for the numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    /// Load average just before the first measurement.
    pub load_before: Option<LoadAverage>,
    /// Load average just after the last measurement (includes the
    /// experiment's own threads).
    pub load_after: Option<LoadAverage>,
    /// Share of all cores' time used by other processes during the
    /// experiment, 0 to 1.
    pub foreign_cpu: Option<f64>,
    /// Wall time of the experiment, in seconds.
    pub seconds: f64,
}

impl Conditions {
    /// Warnings about a busy machine: load at the start above
    /// [`LOAD_WARNING_PER_CORE`] per core, or other processes taking more than
    /// [`FOREIGN_CPU_WARNING`] of the cores during the experiment.
    ///
    /// Once other processes' share has been measured it decides alone: the
    /// load average is a one-minute mean that still counts this harness's
    /// own threads from the experiment before, so on a quiet machine it
    /// would flag every experiment after the first.
    pub fn warnings(&self, logical_cores: usize) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(load) = self.load_before.filter(|_| self.foreign_cpu.is_none()) {
            let limit = LOAD_WARNING_PER_CORE * logical_cores as f64;
            if load.one > limit {
                warnings.push(format!(
                    "busy machine: load average {:.2} at the start (more than {limit:.2} on {logical_cores} logical \
                     cores); other processes compete for the cores, so times and speedups are unreliable",
                    load.one
                ));
            }
        }
        if let Some(share) = self.foreign_cpu.filter(|&share| share > FOREIGN_CPU_WARNING) {
            let loads = match (self.load_before, self.load_after) {
                (Some(before), Some(after)) => format!("; load average {:.2} → {:.2}", before.one, after.one),
                _ => String::new(),
            };
            warnings.push(format!(
                "the machine's load changed during the experiment: other processes used {:.0}% of all cores' \
                 time{loads}; times and speedups are unreliable",
                share * 100.0
            ));
        }
        warnings
    }

    /// One line for captions: `load 0.12 → 1.95, other processes 1% of CPU`.
    pub fn text(&self) -> String {
        let load = |l: Option<LoadAverage>| l.map_or_else(|| "?".to_owned(), |l| format!("{:.2}", l.one));
        let foreign =
            self.foreign_cpu.map_or_else(String::new, |s| format!(", other processes {:.0}% of CPU", s * 100.0));
        format!("load avg {} → {}{foreign}", load(self.load_before), load(self.load_after))
    }
}

/// Measures the [`Conditions`] of whatever runs between [`Monitor::start`] and [`Monitor::finish`].
#[derive(Debug)]
pub struct Monitor {
    load: Option<LoadAverage>,
    cpu: Option<CpuTimes>,
    started: std::time::Instant,
}

impl Monitor {
    /// Reads the load and CPU counters now.
    pub fn start() -> Monitor {
        Monitor { load: LoadAverage::now(), cpu: CpuTimes::now(), started: std::time::Instant::now() }
    }

    /// The load at the start, before anything is measured.
    pub fn load_before(&self) -> Option<LoadAverage> {
        self.load
    }

    /// Reads the counters again and reports the conditions in between.
    pub fn finish(&self) -> Conditions {
        let cpu = CpuTimes::now();
        Conditions {
            load_before: self.load,
            load_after: LoadAverage::now(),
            foreign_cpu: self.cpu.zip(cpu).and_then(|(before, after)| before.foreign_share(&after)),
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// Distinct (package, core) pairs in `/proc/cpuinfo`.
fn physical_cores() -> Option<usize> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    physical_cores_in(&cpuinfo)
}

fn physical_cores_in(cpuinfo: &str) -> Option<usize> {
    let mut cores = HashSet::new();
    let mut package = None;
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        match key.trim() {
            "processor" => package = None,
            "physical id" => package = Some(value.trim().to_owned()),
            "core id" => {
                cores.insert((package.clone(), value.trim().to_owned()));
            }
            _ => {}
        }
    }
    (!cores.is_empty()).then_some(cores.len())
}

fn online_cpus() -> Option<usize> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let count = cpuinfo.lines().filter(|line| line.split(':').next().is_some_and(|k| k.trim() == "processor")).count();
    (count > 0).then_some(count)
}

fn smt_active() -> Option<bool> {
    match read_trimmed("/sys/devices/system/cpu/smt/active")?.as_str() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

fn boost() -> Option<String> {
    let on_off = |on: bool| if on { "on" } else { "off" }.to_owned();
    if let Some(value) = read_trimmed("/sys/devices/system/cpu/cpufreq/boost") {
        return Some(on_off(value == "1"));
    }
    read_trimmed("/sys/devices/system/cpu/intel_pstate/no_turbo").map(|value| on_off(value == "0"))
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

/// What a report warns of about how it was measured, before what its
/// samples say: the build that measured it (a debug build's timings mean
/// nothing), then the machine's conditions during the run. From the saved
/// record, so a redraw by any build says the same as the run did.
pub fn measurement_warnings(machine: &Machine, conditions: &Conditions) -> Vec<String> {
    let mut warnings = Vec::new();
    if machine.build_profile == "debug" {
        warnings.push("measured with a debug build: timings are not representative (use --release)".to_owned());
    }
    warnings.extend(conditions.warnings(machine.logical_cores));
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The debug-build warning is the measuring build's, from the saved
    /// record: a redraw by a debug binary added it to every summary.
    #[test]
    fn the_debug_build_warning_follows_the_build_that_measured() {
        let conditions = Conditions::default();
        let release = crate::testing::machine(2);
        assert!(!measurement_warnings(&release, &conditions).iter().any(|w| w.contains("debug build")));
        let debug = Machine { build_profile: "debug".to_owned(), ..release };
        let warnings = measurement_warnings(&debug, &conditions);
        assert!(warnings[0].starts_with("measured with a debug build"), "{warnings:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn cpu_time_is_counted_in_the_kernel_s_ticks() {
        let getconf = std::process::Command::new("getconf").arg("CLK_TCK").output().unwrap();
        let expected: u64 = String::from_utf8_lossy(&getconf.stdout).trim().parse().unwrap();
        assert_eq!(ticks_per_second(), expected);
        let times = CpuTimes { busy: 0, total: 0, own: 750, ticks_per_second: 250 };
        assert_eq!(times.own_seconds(), 3.0);
        assert_eq!(CpuTimes::now().unwrap().ticks_per_second, expected);
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day in a century leap year) 12:34:56.
        assert_eq!(iso8601_utc(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(iso8601_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(iso8601_utc(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn detect_reports_cores_the_profile_and_the_build() {
        let machine = Machine::detect();
        assert!(machine.logical_cores >= 1);
        assert_eq!(machine.build_profile == "debug", cfg!(debug_assertions));
        assert!(!machine.cpu_model.is_empty());
        assert!(machine.rustc.starts_with("rustc "), "{}", machine.rustc);
        assert!(machine.target.contains(std::env::consts::ARCH), "{}", machine.target);
        let caption = machine.caption();
        for part in [&machine.git_revision, &machine.rustc, &machine.kernel, &machine.hostname] {
            assert!(caption.contains(part.as_str()), "{caption} lacks {part}");
        }
    }

    #[test]
    fn the_revision_is_this_repository_s_not_the_caller_s() {
        // Baked in at build time from the crate's own checkout (the CLI
        // tests run the binary from a foreign repository).
        assert_eq!(Machine::detect().git_revision, GIT_REVISION);
        let manifest = env!("CARGO_MANIFEST_DIR");
        let output = std::process::Command::new("git").args(["-C", manifest, "rev-parse", "--short", "HEAD"]).output();
        if let Some(output) = output.ok().filter(|o| o.status.success()) {
            let head = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            assert!(GIT_REVISION.starts_with(&head), "built from {GIT_REVISION}, checkout at {head}");
        }
    }

    #[test]
    fn proc_files_parse() {
        assert_eq!(
            parse_loadavg("0.52 1.03 2.10 3/512 12345\n"),
            Some(LoadAverage { one: 0.52, five: 1.03, fifteen: 2.10 })
        );
        assert_eq!(parse_loadavg("garbage"), None);
        let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n";
        assert_eq!(parse_proc_stat(stat), Some((161, 1181)));
        let self_stat = "4242 (bench harness) S 1 2 3 4 5 6 7 8 9 10 30 12 4 2 20 0 1 0";
        assert_eq!(parse_self_stat(self_stat), Some(48));
        let cpuinfo =
            "processor\t: 0\nphysical id\t: 0\ncore id\t: 0\n\nprocessor\t: 1\nphysical id\t: 0\ncore id\t: 0\n\n\
                       processor\t: 2\nphysical id\t: 1\ncore id\t: 0\n";
        assert_eq!(physical_cores_in(cpuinfo), Some(2));
        assert_eq!(physical_cores_in("processor: 0\n"), None);
    }

    #[test]
    fn a_busy_machine_is_warned_about() {
        let quiet = Conditions {
            load_before: Some(LoadAverage { one: 0.1, five: 0.1, fifteen: 0.1 }),
            load_after: Some(LoadAverage { one: 1.9, five: 0.5, fifteen: 0.2 }),
            foreign_cpu: Some(0.01),
            seconds: 10.0,
        };
        assert!(quiet.warnings(2).is_empty(), "our own threads raise the load; that is not a warning");
        // Before measuring, only the load average is known: it is warned about.
        let loaded = Conditions {
            load_before: Some(LoadAverage { one: 3.5, five: 3.0, fifteen: 2.0 }),
            foreign_cpu: None,
            ..quiet.clone()
        };
        assert!(loaded.warnings(2)[0].starts_with("busy machine: load average 3.50 at the start"));
        // A high load left by our own previous experiment, with others idle
        // while measuring, is not a busy machine.
        let own_load = Conditions { foreign_cpu: Some(0.01), ..loaded.clone() };
        assert!(own_load.warnings(2).is_empty(), "{:?}", own_load.warnings(2));
        let changed = Conditions { foreign_cpu: Some(0.4), ..quiet };
        let warnings = changed.warnings(2);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("other processes used 40% of all cores' time; load average 0.10 → 1.90"),
            "{warnings:?}"
        );
    }
}
