//! What the machine and its processes say about themselves, from /proc: cores, memory,
//! load, and the CPU time and memory of the processes the benchmark measures.

use std::time::Duration;

/// Linux reports process CPU time in clock ticks of USER_HZ, which is 100 on every
/// architecture the kernel exports to user space (`getconf CLK_TCK`).
const TICKS_PER_SECOND: f64 = 100.0;

/// The machine the numbers were measured on.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, model)| model.trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let memory_kib = meminfo_kib("MemTotal").unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_gib: memory_kib / 1024.0 / 1024.0,
            kernel,
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{} cores ({}), {:.1} GiB memory, Linux {}",
            self.cores, self.cpu_model, self.memory_gib, self.kernel
        )
    }
}

fn meminfo_kib(field: &str) -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time the whole machine spent busy (not idle, not waiting for I/O), in seconds.
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: f64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0.0);
    Some((total - idle) / TICKS_PER_SECOND)
}

/// CPU time (user + system) a process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// `pid` or the first of its descendants (depth first) whose executable is `binary`.
pub fn descendant_running(pid: u32, binary: &std::path::Path) -> Option<u32> {
    if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary) {
        return Some(pid);
    }
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children
        .split_whitespace()
        .filter_map(|child| child.parse().ok())
        .find_map(|child| descendant_running(child, binary))
}

/// Resident memory now and at its peak, in MiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss_mib: f64,
    pub peak_mib: f64,
}

pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    };
    Some(Memory {
        rss_mib: field("VmRSS:")?,
        peak_mib: field("VmHWM:")?,
    })
}

/// Load and the CPU the rest of the machine used, sampled over a phase.
#[derive(Debug, Clone, Default)]
pub struct LoadSample {
    pub load_max: f64,
    pub load_sum: f64,
    pub samples: u32,
}

impl LoadSample {
    pub fn add(&mut self, load: f64) {
        self.load_max = self.load_max.max(load);
        self.load_sum += load;
        self.samples += 1;
    }

    pub fn mean(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.load_sum / f64::from(self.samples)
        }
    }
}

/// CPU seconds used by the processes of `pids` and by the whole machine, read at once, so
/// that a phase can tell its own processes' share from everyone else's.
#[derive(Debug, Clone, Default)]
pub struct CpuReading {
    pub machine: f64,
    pub processes: Vec<(u32, f64)>,
}

impl CpuReading {
    pub fn take(pids: &[u32]) -> CpuReading {
        CpuReading {
            machine: machine_busy_seconds().unwrap_or(0.0),
            processes: pids
                .iter()
                .map(|&pid| (pid, cpu_seconds(pid).unwrap_or(0.0)))
                .collect(),
        }
    }

    /// CPU seconds `pid` used between `earlier` and this reading (0 if it was not in both).
    pub fn used_by(&self, earlier: &CpuReading, pid: u32) -> f64 {
        let find = |r: &CpuReading| r.processes.iter().find(|(p, _)| *p == pid).map(|p| p.1);
        match (find(self), find(earlier)) {
            (Some(now), Some(then)) => (now - then).max(0.0),
            (Some(now), None) => now,
            _ => 0.0,
        }
    }

    /// CPU seconds the machine spent on processes other than `pids` since `earlier`.
    pub fn others_since(&self, earlier: &CpuReading, ours: &[u32]) -> f64 {
        let mine: f64 = ours.iter().map(|&pid| self.used_by(earlier, pid)).sum();
        (self.machine - earlier.machine - mine).max(0.0)
    }
}

/// Seconds as `m:ss` for long phases, `s.s` for short ones.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 120.0 {
        format!("{secs:.1} s")
    } else {
        format!("{}m{:02}s", secs as u64 / 60, secs as u64 % 60)
    }
}
