//! A dropped plan.json (or bare manifest): refused with a message naming the file, or
//! settings that pass the engine's own validation and survive a round trip.
#![no_main]

use labelplan_core::plan::Manifest;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Manifest::from_json("dropped.json", text) {
        Ok(manifest) => {
            // The page sets its form from these settings: the engine must not be handed
            // settings it would refuse later without a message.
            if manifest.settings.validate().is_ok() {
                let again = serde_json::to_string(&manifest).expect("a manifest serialises");
                let back = Manifest::from_json("again.json", &again).expect("a written manifest reads back");
                assert_eq!(back.settings.to_query(), manifest.settings.to_query(), "settings survive");
            }
            let _ = manifest.check_input(&manifest.input.clone());
        }
        Err(e) => assert!(e.contains("dropped.json"), "the message names the file: {e}"),
    }
});
