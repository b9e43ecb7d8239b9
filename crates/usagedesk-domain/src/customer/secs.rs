//! Durations on the wire as whole seconds (`#[serde(with = "crate::customer::secs")]`): chrono's own
//! encoding is a `[secs, nanos]` pair, awkward for the app and the CLI's JSON.

use chrono::Duration;
use serde::{de::Error, Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.num_seconds())
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = i64::deserialize(d)?;
    Duration::try_seconds(secs).ok_or_else(|| D::Error::custom("duration out of range"))
}
