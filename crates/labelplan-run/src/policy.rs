//! Where a plan runs. A GPU is not always faster: a software adapter (SwiftShader in a
//! browser, lavapipe natively) runs a plan several times slower than the CPU backend.
//! So [`BackendPolicy::Auto`] times one short probe — the kNN search that dominates a
//! plan — on both and takes the faster; the user can force either.

use std::fmt;
use std::str::FromStr;

use labelplan_core::backend::{gaussian, Backend, BackendError, Storage};
use labelplan_cpu::CpuBackend;
use labelplan_gpu::{GpuBackend, GpuContext};
use serde::{Deserialize, Serialize};
use web_time::Instant;

/// Where plans run, as the user set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BackendPolicy {
    /// The faster of the GPU and the CPU by the probe; the CPU without a GPU.
    #[default]
    Auto,
    /// The GPU, whatever the probe says (an error without one).
    Gpu,
    /// The CPU.
    Cpu,
}

impl BackendPolicy {
    /// Every policy, in the order a menu lists them.
    pub const ALL: [BackendPolicy; 3] = [BackendPolicy::Auto, BackendPolicy::Gpu, BackendPolicy::Cpu];

    /// The word for it on the command line and in a link.
    pub fn key(self) -> &'static str {
        match self {
            BackendPolicy::Auto => "auto",
            BackendPolicy::Gpu => "gpu",
            BackendPolicy::Cpu => "cpu",
        }
    }
}

impl fmt::Display for BackendPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for BackendPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        BackendPolicy::ALL
            .into_iter()
            .find(|p| p.key() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("expected auto, gpu or cpu, got {s:?}"))
    }
}

/// Seconds the probe took on each backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeTimes {
    /// On the GPU.
    pub gpu: f64,
    /// On the CPU.
    pub cpu: f64,
}

/// The backend a policy chose, and why in words for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Whether plans run on the GPU (else the CPU).
    pub on_gpu: bool,
    /// Why, e.g. "the probe took 12 ms on the GPU and 85 ms on the CPU".
    pub why: String,
}

/// Rows, width and neighbours of the probe's kNN search: enough work that a hardware
/// GPU's fixed costs (dispatch, readback) do not hide its speed, little enough that the
/// CPU takes a fraction of a second even in a browser.
const PROBE_ROWS: usize = 2048;
const PROBE_DIM: usize = 64;
const PROBE_K: usize = 10;

/// The probe's matrix: fixed pseudo-random values, the same on every machine.
fn probe_values(rows: usize) -> Vec<f32> {
    (0..rows * PROBE_DIM).map(|i| gaussian(0x5052_4f42, i as u64)).collect()
}

/// One probe run: upload, normalise, kNN of every row, read back.
async fn probe_once<B: Backend>(backend: &B, values: &[f32], rows: usize) -> Result<(), BackendError> {
    let m = backend.upload_normalized(values, rows, PROBE_DIM, Storage::F32).await?;
    let group: Vec<u32> = (0..rows as u32).collect();
    backend.top_k(&m, PROBE_K, &group).await.map(drop)
}

/// Seconds one probe takes on `backend`, after a small run that compiles its kernels
/// (a plan compiles them once too; the probe is about the work, not the set-up).
async fn timed<B: Backend>(backend: &B) -> Result<f64, BackendError> {
    probe_once(backend, &probe_values(64), 64).await?;
    let values = probe_values(PROBE_ROWS);
    let started = Instant::now();
    probe_once(backend, &values, PROBE_ROWS).await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Times the probe on `gpu` and on the CPU.
pub async fn probe(gpu: &GpuContext) -> Result<ProbeTimes, BackendError> {
    let gpu = timed(&GpuBackend::new(gpu.clone())).await?;
    let cpu = timed(&CpuBackend).await?;
    Ok(ProbeTimes { gpu, cpu })
}

fn ms(seconds: f64) -> String {
    format!("{:.0} ms", seconds * 1000.0)
}

/// The choice `policy` makes given whether there is a GPU (`Err` says why not) and,
/// for [`BackendPolicy::Auto`] with a GPU, what the probe measured (`Err`: how the GPU
/// failed it). An `Err` answer: the policy cannot be met.
pub fn decide(
    policy: BackendPolicy,
    gpu: Result<(), &str>,
    probe: Option<&Result<ProbeTimes, String>>,
) -> Result<Choice, String> {
    let choice = |on_gpu, why: String| Ok(Choice { on_gpu, why });
    match (policy, gpu) {
        (BackendPolicy::Cpu, _) => choice(false, "the CPU was chosen in the settings".into()),
        (BackendPolicy::Gpu, Ok(())) => choice(true, "the GPU was chosen in the settings".into()),
        (BackendPolicy::Gpu, Err(why)) => Err(format!("the GPU was asked for, but there is none: {why}")),
        (BackendPolicy::Auto, Err(why)) => choice(false, format!("no GPU: {why}")),
        (BackendPolicy::Auto, Ok(())) => match probe {
            None => Err("the automatic choice needs the probe's times".into()),
            Some(Err(e)) => choice(false, format!("the GPU failed the probe ({e})")),
            Some(Ok(t)) => {
                let times = format!("the probe took {} on the GPU and {} on the CPU", ms(t.gpu), ms(t.cpu));
                choice(t.gpu <= t.cpu, times)
            }
        },
    }
}

/// The choice `policy` makes on this machine: runs the probe when the policy needs it
/// and `cache` holds no earlier result (it keeps this one for the next call).
pub async fn choose(
    policy: BackendPolicy,
    gpu: Result<&GpuContext, &str>,
    cache: &mut Option<Result<ProbeTimes, String>>,
) -> Result<Choice, String> {
    if let (BackendPolicy::Auto, Ok(ctx), None) = (policy, &gpu, &cache) {
        *cache = Some(probe(ctx).await.map_err(|e| e.to_string()));
    }
    decide(policy, gpu.map(drop), cache.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_read_back_from_their_words() {
        for p in BackendPolicy::ALL {
            assert_eq!(p.key().parse::<BackendPolicy>(), Ok(p));
        }
        assert_eq!(" GPU".parse::<BackendPolicy>(), Ok(BackendPolicy::Gpu));
        assert!("fast".parse::<BackendPolicy>().expect_err("refused").contains("auto, gpu or cpu"));
    }

    #[test]
    fn auto_takes_the_faster_backend_and_says_by_how_much() {
        let slow_gpu = Ok(ProbeTimes { gpu: 0.640, cpu: 0.015 });
        let c = decide(BackendPolicy::Auto, Ok(()), Some(&slow_gpu)).expect("chosen");
        assert!(!c.on_gpu);
        assert_eq!(c.why, "the probe took 640 ms on the GPU and 15 ms on the CPU");
        let fast_gpu = Ok(ProbeTimes { gpu: 0.004, cpu: 0.085 });
        assert!(decide(BackendPolicy::Auto, Ok(()), Some(&fast_gpu)).expect("chosen").on_gpu);
    }

    #[test]
    fn forcing_overrides_the_probe_and_a_missing_gpu_is_an_error_only_when_forced() {
        let slow_gpu = Ok(ProbeTimes { gpu: 0.640, cpu: 0.015 });
        assert!(decide(BackendPolicy::Gpu, Ok(()), Some(&slow_gpu)).expect("chosen").on_gpu);
        assert!(!decide(BackendPolicy::Cpu, Ok(()), None).expect("chosen").on_gpu);
        let none = decide(BackendPolicy::Gpu, Err("no adapter"), None).expect_err("refused");
        assert!(none.contains("no adapter"), "{none}");
        let auto = decide(BackendPolicy::Auto, Err("no adapter"), None).expect("chosen");
        assert_eq!((auto.on_gpu, auto.why.as_str()), (false, "no GPU: no adapter"));
        let failed = decide(BackendPolicy::Auto, Ok(()), Some(&Err("lost".into()))).expect("chosen");
        assert!(!failed.on_gpu && failed.why.contains("lost"));
    }
}
