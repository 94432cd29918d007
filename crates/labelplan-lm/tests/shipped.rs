//! The sparsity sets the page ships (`web/sparsity/`): the manifest names every file
//! there with its true SHA-256 and size, the whole stays within 10 MB, every set loads
//! and fits the model, and the evaluation has a row for each set and for dense.

mod common;

use std::collections::BTreeSet;

use labelplan_lm::shipped::SetsManifest;
use labelplan_lm::sparse::SparseSet;
use labelplan_lm::Loaded;
use labelplan_testkit::repo_root;
use sha2::{Digest, Sha256};

/// The most the sets may weigh in all.
const BUDGET: u64 = 10 << 20;

#[test]
fn the_manifest_names_every_shipped_set_with_its_hash_and_each_fits_the_model() {
    let folder = repo_root().join("web/sparsity");
    let manifest: SetsManifest = serde_json::from_slice(
        &std::fs::read(folder.join("manifest.json")).expect("web/sparsity/manifest.json"),
    )
    .expect("a sets manifest");
    let loaded = Loaded::from_bytes("model.gguf", &common::model()).expect("loads");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&folder)
        .expect("the folder")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    let listed: BTreeSet<String> = manifest.sets.iter().map(|s| s.file.clone()).collect();
    assert_eq!(on_disk, listed, "every set file is in the manifest and every listed file is there");
    let mut total = 0;
    for set in &manifest.sets {
        let bytes = std::fs::read(folder.join(&set.file)).expect("the set");
        assert_eq!(bytes.len() as u64, set.bytes, "{}: size", set.file);
        assert_eq!(format!("{:x}", Sha256::digest(&bytes)), set.sha256, "{}: SHA-256", set.file);
        total += set.bytes;
        let read = SparseSet::from_bytes(&set.file, &bytes).expect("reads");
        read.grouping.check(&loaded.model).expect("fits the model");
        assert_eq!((read.kind(), read.label()), (set.kind.clone(), set.label.clone()), "{}", set.file);
        assert!(
            manifest.evaluation.iter().any(|r| r.label == set.label),
            "{} has no evaluation row",
            set.label
        );
    }
    assert!(total <= BUDGET, "the sets weigh {total} bytes, over {BUDGET}");
    assert!(manifest.evaluation.iter().any(|r| r.kind == "dense"));
    for kind in ["lte", "posthoc", "thresholds"] {
        assert!(manifest.sets.iter().any(|s| s.kind == kind), "no {kind} set is shipped");
    }
}
