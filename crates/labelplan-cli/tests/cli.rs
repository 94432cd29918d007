//! The `labelplan` binary as a script would use it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use labelplan_testkit::fixture;

fn labelplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labelplan")).args(args).output().expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("labelplan-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

#[test]
fn methods_lists_every_method() {
    let out = labelplan(&["methods"]);
    assert!(out.status.success());
    let (stdout, _) = text(&out);
    for m in labelplan_core::plan::Method::ALL {
        assert!(
            stdout.lines().any(|l| l.starts_with(m.name()) && l.len() > m.name().len() + 20),
            "{m} missing"
        );
    }
}

#[test]
fn plan_writes_the_four_exports_and_the_manifest_reproduces_them() {
    let input = fixture("small.npy");
    let sidecar = fixture("small_sidecar.csv");
    let dir = scratch("plan");
    let out = labelplan(&[
        "plan",
        path(&input),
        "--sidecar",
        path(&sidecar),
        "--budget",
        "10%",
        "--budget",
        "25",
        "--seed",
        "3",
        "--out",
        path(&dir),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Recommended: ") || stdout.contains("No recommended budget"), "{stdout}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).expect("plan.json"))
            .expect("JSON");
    assert_eq!(plan["manifest"]["settings"]["method"], "coverage");
    assert_eq!(plan["manifest"]["input"]["sidecar"]["name"], "small_sidecar.csv");
    assert_eq!(plan["budgets"][0]["rows"].as_array().expect("rows").len(), 10);
    assert_eq!(plan["budgets"][1]["rows"].as_array().expect("rows").len(), 25);
    let ranked = std::fs::read_to_string(dir.join("ranked.csv")).expect("ranked.csv");
    let mut lines = ranked.lines();
    assert_eq!(lines.next(), Some("rank,row,id,cluster,score,in_10%,in_25,digit"));
    let first: Vec<&str> = lines.next().expect("a ranked row").split(',').collect();
    assert_eq!(first[0], "1");
    assert_eq!(first[2], format!("d{:04}", first[1].parse::<u32>().expect("row number")));
    let ids = std::fs::read_to_string(dir.join("selected_ids.txt")).expect("ids");
    assert_eq!(ids.lines().count(), 10);
    assert!(ids.lines().all(|l| l.starts_with('d')));
    let tasks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("labelstudio.json")).expect("tasks"))
            .expect("JSON");
    let tasks = tasks.as_array().expect("a list of tasks");
    assert_eq!(tasks.len(), 10);
    assert_eq!(tasks[0]["predictions"][0]["score"], 1.0);
    assert!(tasks[0]["data"]["digit"].is_string());

    // Replay from the manifest: byte for byte.
    let again = scratch("replay");
    let out = labelplan(&[
        "plan",
        path(&input),
        "--sidecar",
        path(&sidecar),
        "--manifest",
        path(&dir.join("plan.json")),
        "--out",
        path(&again),
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    for file in ["plan.json", "ranked.csv", "selected_ids.txt", "labelstudio.json"] {
        assert_eq!(
            std::fs::read(dir.join(file)).ok(),
            std::fs::read(again.join(file)).ok(),
            "{file} differs"
        );
    }

    // Another input, or extra setting flags, are refused with one sentence.
    let out = labelplan(&[
        "plan",
        path(&fixture("small_f16.npy")),
        "--sidecar",
        path(&sidecar),
        "--manifest",
        path(&dir.join("plan.json")),
        "--out",
        path(&again),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.starts_with("error: small_f16.npy has SHA-256"), "{stderr}");
    let out = labelplan(&[
        "plan",
        path(&input),
        "--manifest",
        path(&dir.join("plan.json")),
        "--seed",
        "4",
        "--out",
        path(&again),
    ]);
    assert!(text(&out).1.contains("drop --seed"), "{}", text(&out).1);
}

#[test]
fn bad_input_is_one_sentence_on_stderr_and_a_failing_exit() {
    let dir = scratch("bad");
    for (file, expect) in [
        ("bad_ragged.csv", "bad_ragged.csv: line 7 (row 6) has 63 values"),
        ("bad_truncated.npy", "bad_truncated.npy"),
        ("bad_empty.npy", "bad_empty.npy: the file is empty"),
        // The parquet crate panics on this page; the reader's catch keeps the report quiet.
        ("bad_level_length.parquet", "bad_level_length.parquet: Parquet: the decoder failed"),
    ] {
        let out = labelplan(&["plan", path(&fixture(file)), "--out", path(&dir)]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{file}: {stderr}");
        assert!(stderr.starts_with(&format!("error: {expect}")), "{file}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"));
        assert!(stdout.is_empty());
    }
    let one_row = dir.join("one_row.csv");
    std::fs::create_dir_all(&dir).expect("scratch folder");
    std::fs::write(&one_row, "0.1,0.2,0.3\n").expect("one-row file written");
    let out = labelplan(&["plan", path(&one_row), "--out", path(&dir)]);
    assert_eq!(out.status.code(), Some(1));
    let expect = "error: setting input: one_row.csv has 1 row; a plan needs at least 2";
    assert_eq!(text(&out).1.trim_end(), expect);
    let out =
        labelplan(&["plan", path(&fixture("small.npy")), "--labeled-column", "nope", "--out", path(&dir)]);
    assert!(text(&out).1.contains("no column \"nope\""), "{}", text(&out).1);
    let out = labelplan(&["plan", path(&fixture("small.npy")), "--method", "elf", "--out", path(&dir)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("expected one of coverage"), "{}", text(&out).1);
}

#[test]
fn every_method_plans_from_the_command_line() {
    let dir = scratch("methods");
    for m in labelplan_core::plan::Method::ALL {
        let out = labelplan(&[
            "plan",
            path(&fixture("small.npy")),
            "--method",
            m.name(),
            "--budget",
            "12",
            "--out",
            path(&dir),
        ]);
        assert!(out.status.success(), "{m}: {}", text(&out).1);
        let ids = std::fs::read_to_string(dir.join("selected_ids.txt")).expect("ids");
        assert_eq!(ids.lines().count(), 12, "{m}");
        let plan: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).expect("plan.json"))
                .expect("JSON");
        assert_eq!(plan["manifest"]["settings"]["method"], m.name());
    }
}

#[test]
fn backend_flag_picks_where_the_plan_runs_and_the_manifest_says_so() {
    let input = fixture("small.npy");
    for (flag, want) in [("cpu", "\"backend\": \"CPU\""), ("gpu", "\"backend\": \"GPU: ")] {
        let dir = scratch(&format!("backend-{flag}"));
        let out =
            labelplan(&["plan", path(&input), "--backend", flag, "--budget", "10", "--out", path(&dir)]);
        let (_, stderr) = text(&out);
        assert!(out.status.success(), "--backend {flag}: {stderr}");
        assert!(stderr.is_empty(), "--backend {flag} wrote to stderr: {stderr}");
        let plan = std::fs::read_to_string(dir.join("plan.json")).expect("plan.json");
        assert!(plan.contains(want), "--backend {flag}: {}", &plan[..plan.len().min(600)]);
        // Its manifest replayed without --backend runs where it ran (auto's probe is
        // not asked, which under load could choose the other): the same bytes.
        let again = scratch(&format!("backend-{flag}-replay"));
        let manifest = dir.join("plan.json");
        let out = labelplan(&["plan", path(&input), "--manifest", path(&manifest), "--out", path(&again)]);
        assert!(out.status.success(), "replay of --backend {flag}: {}", text(&out).1);
        assert!(text(&out).0.contains("the manifest's plan ran on"), "{}", text(&out).0);
        assert_eq!(std::fs::read_to_string(again.join("plan.json")).expect("plan.json"), plan);
    }
    let out = labelplan(&["plan", path(&input), "--backend", "tpu", "--out", path(&scratch("tpu"))]);
    assert_eq!(out.status.code(), Some(2), "an unknown backend is a usage error");
}

#[test]
fn storage_flag_is_recorded_and_replayed_from_the_manifest() {
    let input = fixture("small.npy");
    let dir = scratch("storage");
    let args = ["plan", path(&input), "--storage", "f16", "--budget", "10", "--backend", "cpu"];
    let out = labelplan(&[&args[..], &["--out", path(&dir)]].concat());
    assert!(out.status.success(), "{}", text(&out).1);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).expect("plan.json"))
            .expect("JSON");
    assert_eq!(plan["manifest"]["settings"]["storage"], "f16");
    let again = scratch("storage-replay");
    let manifest = dir.join("plan.json");
    let out = labelplan(&["plan", path(&input), "--manifest", path(&manifest), "--out", path(&again)]);
    assert!(out.status.success(), "{}", text(&out).1);
    let ids = |d: &Path| std::fs::read_to_string(d.join("selected_ids.txt")).expect("ids");
    assert_eq!(ids(&dir), ids(&again), "the replay picks the same items");

    let out = labelplan(&["plan", path(&input), "--storage", "f8", "--out", path(&scratch("f8"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("expected f32 or f16"), "{}", text(&out).1);
}

#[test]
fn the_markdown_summary_names_the_input_every_budget_and_the_recommendation() {
    let dir = scratch("summary");
    let out = labelplan(&[
        "plan",
        path(&fixture("small.npy")),
        "--budget",
        "10",
        "--budget",
        "20%",
        "--out",
        path(&dir),
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    let plan: labelplan_core::plan::Plan =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).expect("plan.json"))
            .expect("a plan");
    let md = labelplan_core::write::summary_markdown(&plan);
    assert!(
        md.starts_with("**Labeling plan for small.npy** (100 items, 0 already labeled; method coverage"),
        "{md}"
    );
    assert!(
        md.contains("| Budget | Items | Cost | Hours | Share of reachable quality (est.) | Covered |"),
        "{md}"
    );
    assert!(md.contains("\n| 10 | 10 | 1.00 | 0.1 |"), "{md}");
    assert!(md.contains("\n| 20% | 20 | 2.00 | 0.1 |"), "{md}");
    let recommended = plan
        .recommended
        .as_ref()
        .map_or("No recommended budget".to_string(), |r| format!("Recommended: {} items", r.count));
    assert!(md.contains(&recommended), "{md}");
    // Both readings of the curve, each with the share it reaches; never called accuracy
    // but what it is.
    if let (Some(r), Some(t)) = (&plan.recommended, &plan.reaches) {
        assert!(md.contains(&format!("{:.1}% of the reachable quality", r.share)), "{md}");
        assert!(md.contains(&format!("95% of the reachable quality: {} items", t.count)), "{md}");
    }
    assert!(md.contains("not accuracy"), "{md}");
    assert!(md.contains(&plan.manifest.input.sha256), "{md}");
    // Without the task's classes the plan says which task it estimated and how to give
    // the real one; with them it says so.
    assert!(
        md.contains(&format!("task of {} classes (the pseudo-label clusters)", plan.clustering.k)),
        "{md}"
    );
    // And how far the recommendation was off on labelled data, in this plan's items.
    let recommended = plan.recommended.as_ref().expect("small.npy's curve rises to a knee");
    let (low, high) = labelplan_core::write::KNEE_OVER_RECOMMENDED.not_given;
    let items = |f: f64| ((recommended.count as f64 * f).round() as usize).max(1);
    assert!(
        md.contains(&format!(
            "the knee of true accuracy lay at {low}–{high}× such a recommendation (earliest where the task has fewer classes than the data has clusters): here {}–{} items",
            items(low),
            items(high)
        )),
        "{md}"
    );
    let given = scratch("summary-classes");
    let out = labelplan(&["plan", path(&fixture("small.npy")), "--task-classes", "2", "--out", path(&given)]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(
        text(&out).0.contains("Estimated for a labeling task of 2 classes (as set)."),
        "{}",
        text(&out).0
    );
    let (low, high) = labelplan_core::write::KNEE_OVER_RECOMMENDED.given;
    assert!(
        text(&out)
            .0
            .contains(&format!("the knee of true accuracy lay at {low}–{high}× such a recommendation")),
        "{}",
        text(&out).0
    );
    let out = labelplan(&["plan", path(&fixture("small.npy")), "--task-classes", "1", "--out", path(&given)]);
    assert!(!out.status.success(), "one class is refused");
    assert!(text(&out).1.contains("whole number ≥ 2"), "{}", text(&out).1);
}

/// Ids and metadata that are formulas or markup: `ranked.csv` neutralises the formulas
/// (a leading `'`, numbers left alone) and stays parseable; the JSON exports carry every
/// text exactly, escaped; nothing is lost or reordered.
#[test]
fn hostile_ids_and_metadata_are_neutralised_in_the_csv_and_escaped_in_json() {
    let dir = scratch("hostile");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let hostile = [
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\tTAB",
        "\rCR",
        "<img src=x onerror=alert(1)>",
        "\"quoted\", with comma",
        "line\nbreak",
    ];
    let mut sidecar = csv_text(&["id", "note"]);
    for i in 0..100 {
        let id = hostile.get(i).map_or_else(|| format!("d{i:04}"), |h| h.to_string());
        let note = if i % 2 == 0 { "=1+1".to_string() } else { "-0.5".to_string() };
        sidecar.push_str(&csv_text(&[&id, &note]));
    }
    let sidecar_path = dir.join("hostile.csv");
    std::fs::write(&sidecar_path, sidecar).expect("write the sidecar");
    let out_dir = dir.join("out");
    let out = labelplan(&[
        "plan",
        path(&fixture("small.npy")),
        "--sidecar",
        path(&sidecar_path),
        "--budget",
        "100%",
        "--out",
        path(&out_dir),
    ]);
    assert!(out.status.success(), "{}", text(&out).1);

    let ranked = std::fs::read(out_dir.join("ranked.csv")).expect("ranked.csv");
    let mut reader = csv_reader(&ranked);
    let header = reader.next().expect("a header");
    assert_eq!(header.last().map(String::as_str), Some("note"));
    let mut seen_ids = Vec::new();
    for record in reader {
        let (id, note) = (&record[2], &record[record.len() - 1]);
        for cell in [id, note] {
            let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err();
            assert!(!risky, "{cell:?} would run as a formula");
        }
        assert!(note == "'=1+1" || note == "-0.5", "{note:?}");
        seen_ids.push(id.strip_prefix('\'').filter(|_| id.len() > 1).unwrap_or(id).to_string());
    }
    for h in hostile {
        assert!(seen_ids.iter().any(|s| s == h), "{h:?} is in ranked.csv (after its quote)");
    }

    let tasks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("labelstudio.json")).expect("tasks"))
            .expect("JSON");
    let ids: Vec<&str> = tasks
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["data"]["labelplan_id"].as_str().expect("an id"))
        .collect();
    for h in hostile {
        assert!(ids.contains(&h), "{h:?} is carried exactly in labelstudio.json");
    }
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("plan.json")).expect("plan"))
            .expect("plan.json is JSON");
    assert_eq!(plan["manifest"]["input"]["sidecar"]["name"], "hostile.csv");
}

/// One CSV record (fields quoted where they need it), with its newline.
fn csv_text(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| format!("\"{}\"", f.replace('"', "\"\""))).collect();
    quoted.join(",") + "\n"
}

/// The records of a CSV file, as a spreadsheet or a script would read them.
fn csv_reader(bytes: &[u8]) -> impl Iterator<Item = Vec<String>> + '_ {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .into_records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
}
