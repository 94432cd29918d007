//! Worker messages survive the trip through the codec both sides use.
#![cfg(target_arch = "wasm32")]

use std::sync::atomic::AtomicBool;

use labelplan_core::plan::{InputInfo, Settings};
use labelplan_core::Dataset;
use labelplan_cpu::CpuBackend;
use labelplan_select::Engine;
use labelplan_web::codec::JsCodec;
use labelplan_web::protocol::Response;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use yew_agent::Codec;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn a_plan_crosses_the_worker_boundary_unchanged() {
    let (rows, dim) = (300, 8);
    let values =
        (0..rows * dim).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0 + (i / dim % 5) as f32).collect();
    let data = Dataset::from_matrix("codec", values, rows, dim);
    let (plan, map) = Engine::new(&CpuBackend)
        .run_with_map(
            &data,
            InputInfo::unhashed(&data),
            &Settings::default(),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .await
        .expect("a plan");
    assert!(!plan.ranked.is_empty() && plan.cluster.len() == rows && map.positions.len() == 2 * rows);
    let (map, order) = (map.positions, map.order);
    let sent = Response::Planned {
        plan: Box::new(plan),
        map,
        order,
        seconds: 1.5,
        note: Some("a note".into()),
        compare: false,
    };
    let encoded = JsCodec::encode(&sent);
    let planned = js_sys::Reflect::get(&encoded, &"Planned".into()).expect("variant");
    for field in ["plan", "map", "order"] {
        let bytes = js_sys::Reflect::get(&planned, &field.into()).expect("field");
        assert!(bytes.is_instance_of::<js_sys::Uint8Array>(), "{field} travels as one byte array");
    }
    let received: Response = JsCodec::decode(encoded);
    assert_eq!(received, sent);
}
