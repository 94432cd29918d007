//! Worker messages encoded with serde-wasm-bindgen instead of bincode, so a `File` or
//! `Blob` can ride inside a request as a JS handle (structured clone, no byte copy).

use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsValue, UnwrapThrowExt};
use yew_agent::Codec;

/// The codec both sides of the worker bridge use.
#[derive(Debug)]
pub struct JsCodec;

impl Codec for JsCodec {
    fn encode<I: Serialize>(input: I) -> JsValue {
        input.serialize(&serde_wasm_bindgen::Serializer::new()).expect_throw("encode a worker message")
    }

    fn decode<O: for<'de> Deserialize<'de>>(input: JsValue) -> O {
        serde_wasm_bindgen::from_value(input).expect_throw("decode a worker message")
    }
}
