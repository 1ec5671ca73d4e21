//! Numbers as PyYAML (YAML 1.1), which the seed uses, reads them: besides plain numbers,
//! strings such as `80_000_000_000` (underscores between digits) are numbers.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

/// A number, or a string holding one (underscores allowed).
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    F(f64),
    S(String),
}

fn parse<E: Error>(n: Num) -> Result<f64, E> {
    match n {
        Num::F(v) => Ok(v),
        Num::S(s) => {
            let t = s.trim();
            let ok = !t.is_empty()
                && !t.starts_with('_')
                && !t.ends_with('_')
                && !t.contains("__")
                && t.chars()
                    .all(|c| c.is_ascii_digit() || "_+-.eE".contains(c));
            ok.then(|| t.replace('_', "").parse::<f64>().ok())
                .flatten()
                .ok_or_else(|| E::custom(format!("invalid type: string {s:?}, expected a number")))
        }
    }
}

/// An optional `f64`.
pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Option::<Num>::deserialize(d)?.map(parse).transpose()
}

/// An optional whole number in `0..=max`.
fn opt_int<'de, D: Deserializer<'de>>(d: D, max: f64) -> Result<Option<f64>, D::Error> {
    let v = opt_f64(d)?;
    if let Some(v) = v
        && !(v.fract() == 0.0 && (0.0..=max).contains(&v))
    {
        return Err(D::Error::custom(format!(
            "invalid value: {v}, expected a whole number in [0, {max}]"
        )));
    }
    Ok(v)
}

/// An optional `u32`.
pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(opt_int(d, f64::from(u32::MAX))?.map(|v| v as u32))
}

/// An optional `u64` (exact up to 2⁵³).
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(opt_int(d, 9_007_199_254_740_992.0)?.map(|v| v as u64))
}
