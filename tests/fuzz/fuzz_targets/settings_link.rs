//! The link's hash (`#epochs=3&…`): settings that validate and survive a round trip,
//! or an error naming the setting at fault.
#![no_main]

use labelplan_core::plan::Settings;
use labelplan_core::settings::{decode_query, field};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(hash) = std::str::from_utf8(data) else { return };
    match Settings::from_query(hash) {
        Ok(settings) => {
            settings.validate().expect("settings read from a link validate");
            let query = settings.to_query();
            let back = Settings::from_query(&query).expect("a written link reads back");
            assert_eq!(back.to_query(), query, "the link is stable");
        }
        Err(e) => {
            let known = decode_query(hash).iter().any(|(k, _)| field(k).is_some_and(|f| f.key == e.key));
            assert!(e.key == "link" || known, "the error names a setting of the link: {e}");
        }
    }
});
