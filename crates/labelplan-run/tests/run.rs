//! The run layer on this machine's GPU (lavapipe in CI: the tests fail, never skip,
//! without an adapter) and the CPU.

use std::sync::atomic::AtomicBool;

use futures::io::Cursor;
use labelplan_core::plan::{Budget, InputInfo, Settings};
use labelplan_core::read::source::Unwatched;
use labelplan_core::read::SidecarJoin;
use labelplan_core::{Dataset, LoadOptions};
use labelplan_gpu::{GpuContext, GpuOptions};
use labelplan_run::policy::probe;
use labelplan_run::{choose, input_info, plan, BackendPolicy, Source, Watch, Work};
use labelplan_testkit::blobs;
use pollster::block_on;

fn gpu(options: GpuOptions) -> GpuContext {
    block_on(GpuContext::new(options)).unwrap_or_else(|e| {
        panic!("a GPU adapter is required for these tests (install mesa-vulkan-drivers for lavapipe): {e}")
    })
}

fn dataset() -> Dataset {
    Dataset::from_matrix("blobs.npy", blobs(3, 240, 16, 6, 0.05), 240, 16)
}

fn settings() -> Settings {
    Settings {
        budgets: vec![Budget::Count(12)],
        curve: vec![Budget::Count(6), Budget::Count(24)],
        ..Settings::default()
    }
}

#[test]
fn the_probe_times_both_backends_and_auto_runs_it_once() {
    let ctx = gpu(GpuOptions::default());
    let times = block_on(probe(&ctx)).expect("the probe runs on both");
    assert!(times.gpu > 0.0 && times.cpu > 0.0, "{times:?}");
    let mut cache = None;
    let first = block_on(choose(BackendPolicy::Auto, Ok(&ctx), &mut cache)).expect("auto always chooses");
    let measured = cache.clone().expect("auto keeps the probe's times").expect("the GPU ran the probe");
    assert_eq!(first.on_gpu, measured.gpu <= measured.cpu);
    assert!(first.why.contains("ms on the GPU"), "{}", first.why);
    // A second choice reuses the times (a probe again could choose differently).
    let again = block_on(choose(BackendPolicy::Auto, Ok(&ctx), &mut cache)).expect("auto");
    assert_eq!((again, cache), (first, Some(Ok(measured))));
}

#[test]
fn a_forced_backend_skips_the_probe() {
    let ctx = gpu(GpuOptions::default());
    let mut cache = None;
    let forced = block_on(choose(BackendPolicy::Gpu, Ok(&ctx), &mut cache)).expect("there is a GPU");
    assert!(forced.on_gpu && cache.is_none());
    let refused = block_on(choose(BackendPolicy::Gpu, Err("WebGPU is off"), &mut cache)).expect_err("no GPU");
    assert!(refused.contains("WebGPU is off"), "{refused}");
}

#[test]
fn a_plan_on_the_gpu_and_on_the_cpu_records_where_it_ran() {
    let data = dataset();
    let ctx = gpu(GpuOptions::default());
    let cancel = AtomicBool::new(false);
    for (gpu, backend) in [(Some(&ctx), "GPU: "), (None, "CPU")] {
        let mut stages = Vec::new();
        let watch = Watch { progress: &mut |p| stages.push(p.unit), cancel: &cancel, pause: None };
        let planned =
            block_on(plan(gpu, Work::Mapped(&data), InputInfo::unhashed(&data), &settings(), watch))
                .expect("plans");
        assert!(planned.plan.manifest.backend.starts_with(backend), "{}", planned.plan.manifest.backend);
        assert_eq!(planned.note, None);
        assert_eq!(planned.map.positions.len(), data.rows * 2, "a mapped plan has its map");
        assert!(!stages.is_empty());
    }
}

#[test]
fn a_gpu_failure_reruns_the_plan_on_the_cpu_and_says_so() {
    let data = dataset();
    // Bindings of 16 bytes: not one row of the pool fits (16 dims), so the GPU refuses
    // the first upload.
    let ctx = gpu(GpuOptions { max_binding_bytes: Some(16) });
    let cancel = AtomicBool::new(false);
    let watch = Watch { progress: &mut |_| {}, cancel: &cancel, pause: None };
    let planned =
        block_on(plan(Some(&ctx), Work::Plain(&data), InputInfo::unhashed(&data), &settings(), watch))
            .expect("the CPU finishes it");
    assert_eq!(planned.plan.manifest.backend, "CPU");
    let note = planned.note.expect("the user is told");
    assert!(note.starts_with("the GPU failed (") && note.ends_with("this plan ran on the CPU"), "{note}");
}

#[test]
fn a_device_lost_in_the_middle_of_a_plan_finishes_on_the_cpu_with_the_same_picks() {
    let data = dataset();
    let cancel = AtomicBool::new(false);
    let run = |gpu: Option<&GpuContext>, progress: &mut dyn FnMut(&labelplan_select::Progress)| {
        let watch = Watch { progress, cancel: &cancel, pause: None };
        block_on(plan(gpu, Work::Mapped(&data), InputInfo::unhashed(&data), &settings(), watch))
    };
    let on_cpu = run(None, &mut |_| {}).expect("the CPU plans");
    let ctx = gpu(GpuOptions::default());
    let mut seen = 0;
    let planned = run(Some(&ctx), &mut |_| {
        seen += 1;
        // A few stages in: the pool is on the GPU and kernels have run.
        if seen == 4 {
            ctx.destroy();
        }
    })
    .expect("the CPU finishes it");
    assert!(seen > 4, "the device was lost mid-plan");
    assert_eq!(planned.plan.manifest.backend, "CPU");
    let note = planned.note.expect("the user is told");
    assert!(note.starts_with("the GPU failed (") && note.ends_with("this plan ran on the CPU"), "{note}");
    assert_eq!(planned.plan.ranked, on_cpu.plan.ranked, "the same picks as a plan on the CPU");
    assert_eq!(planned.plan.budgets[0].rows, on_cpu.plan.budgets[0].rows);
    assert_eq!(planned.map.positions, on_cpu.map.positions);
}

#[test]
fn a_kernel_that_does_not_compile_is_an_error_and_the_device_goes_on() {
    let ctx = gpu(GpuOptions::default());
    let err = block_on(ctx.kernel("broken", "@compute @workgroup_size(1) fn main( {", "main"))
        .expect_err("not WGSL");
    assert!(err.to_string().contains("compiling a kernel"), "{err}");
    let data = dataset();
    let cancel = AtomicBool::new(false);
    let watch = Watch { progress: &mut |_| {}, cancel: &cancel, pause: None };
    let planned =
        block_on(plan(Some(&ctx), Work::Plain(&data), InputInfo::unhashed(&data), &settings(), watch))
            .expect("plans");
    assert!(planned.plan.manifest.backend.starts_with("GPU: "), "{}", planned.plan.manifest.backend);
}

#[test]
fn reruns_of_one_manifest_give_the_same_bytes_on_each_backend_for_every_method() {
    let data = dataset();
    let ctx = gpu(GpuOptions::default());
    let cancel = AtomicBool::new(false);
    let plan_json = |gpu: Option<&GpuContext>, settings: &Settings| {
        let watch = Watch { progress: &mut |_| {}, cancel: &cancel, pause: None };
        let planned = block_on(plan(gpu, Work::Mapped(&data), InputInfo::unhashed(&data), settings, watch))
            .expect("plans");
        assert_eq!(planned.note, None);
        labelplan_core::write::plan_json(&planned.plan)
    };
    for gpu in [None, Some(&ctx)] {
        // The default method ten times over.
        let first = plan_json(gpu, &settings());
        for _ in 1..10 {
            assert!(plan_json(gpu, &settings()) == first, "a rerun differs (GPU: {})", gpu.is_some());
        }
        // Every method twice.
        for method in labelplan_core::plan::Method::ALL {
            let settings = Settings { method, ..settings() };
            assert!(
                plan_json(gpu, &settings) == plan_json(gpu, &settings),
                "{method} (GPU: {})",
                gpu.is_some()
            );
        }
    }
}

#[test]
fn the_input_record_hashes_the_file_and_its_sidecar() {
    let data = dataset();
    let file = Source { name: "x.npy".to_owned(), reader: Cursor::new(b"abc".to_vec()) };
    let side = Source { name: "meta.csv".to_owned(), reader: Cursor::new(Vec::new()) };
    let options = LoadOptions { array_name: Some("emb".into()), ..LoadOptions::default() };
    let join = SidecarJoin::ById("id".into());
    let info = block_on(input_info(&data, file, &options, Some((side, &join)), &Unwatched)).expect("hashes");
    assert_eq!(info.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!((info.bytes, info.rows, info.dim, info.array.as_deref()), (3, 240, 16, Some("emb")));
    let side = info.sidecar.expect("recorded");
    assert_eq!(side.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(side.join_by.as_deref(), Some("id"));
}
