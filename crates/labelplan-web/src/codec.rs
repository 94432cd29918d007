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

/// A large value (a plan: its ranked list and per-item clusters run to 100,000s of
/// numbers) carried across the worker boundary as one bincode byte string, a
/// `Uint8Array` on the JS side. serde-wasm-bindgen builds and reads a JS value per
/// element: decoding a 100k-row plan that way took the page's main thread 11–28 ms in
/// headless Chromium on an idle machine, bincode 0.3–3 ms.
pub mod as_bytes {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serialises `value` as bincode bytes.
    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        let bytes = bincode::serialize(value).map_err(S::Error::custom)?;
        serde_bytes::Bytes::new(&bytes).serialize(s)
    }

    /// Reads a value from bincode bytes.
    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(d)?;
        bincode::deserialize(&bytes).map_err(D::Error::custom)
    }
}
