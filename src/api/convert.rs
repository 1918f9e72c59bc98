//! Conversions between Rhai values and Rust values at the API boundary.

use super::Res;
use rhai::{Dynamic, Map};

/// Any serialisable value as a Rhai value (maps, arrays, strings, numbers). Goes through JSON
/// first: Rhai maps only have string keys, and JSON turns integer keys (`nets: {0: …}`) into
/// strings the way a plan expects to index them (`cfg.nets["0"]`).
pub fn to_dynamic<T: serde::Serialize>(value: &T) -> Res<Dynamic> {
    let json = serde_json::to_value(value).map_err(|e| format!("cannot convert to a plan value: {e}"))?;
    rhai::serde::to_dynamic(json)
}

/// A guest id from a Rhai value: an integer, or a string of digits (as config files allow).
pub fn guest_id(v: &Dynamic) -> Res<u32> {
    if let Ok(i) = v.as_int() {
        return u32::try_from(i).map_err(|_| format!("guest id {i} is out of range").into());
    }
    if let Ok(s) = v.clone().into_immutable_string() {
        return s.trim().parse::<u32>().map_err(|_| format!("`{s}` is not a guest id").into());
    }
    Err(format!("a guest id must be an integer, not {}", v.type_name()).into())
}

pub fn guest_ids(arr: &rhai::Array) -> Res<Vec<u32>> {
    arr.iter().map(guest_id).collect()
}

pub fn ids_to_array(ids: &[u32]) -> rhai::Array {
    ids.iter().map(|i| Dynamic::from(*i as i64)).collect()
}

/// An optional string field of an options map.
pub fn opt_str(map: &Map, key: &str) -> Res<Option<String>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => {
            v.clone().into_string().map(Some).map_err(|t| format!("option `{key}` must be a string, not {t}").into())
        }
    }
}

/// A file mode: an integer (0o640 written as 416, or as 640 meaning octal digits) or a string
/// of octal digits ("0640"). Integers whose decimal digits are all octal are read as octal,
/// because that is what an operator writing `mode: 640` means.
pub fn mode(map: &Map, key: &str, default: u32) -> Res<u32> {
    let Some(v) = map.get(key) else {
        return Ok(default);
    };
    let text = if let Ok(i) = v.as_int() {
        i.to_string()
    } else {
        v.clone().into_string().map_err(|t| format!("option `{key}` must be an octal string like \"0640\", not {t}"))?
    };
    let digits = text.trim().trim_start_matches("0o");
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("option `{key}`: `{text}` is not an octal file mode like \"0640\"").into())
}

/// Reject keys an options map does not know, naming the closest known one.
pub fn known_keys(map: &Map, what: &str, known: &[&str]) -> Res<()> {
    for k in map.keys() {
        if !known.contains(&k.as_str()) {
            let hint = crate::script::suggest::closest(k, known.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(format!("{what}: unknown option `{k}` (known: {}){hint}", known.join(", ")).into());
        }
    }
    Ok(())
}

/// The result an ensure function returns to the plan.
pub fn outcome(changed: bool, actions: usize) -> Dynamic {
    let mut m = Map::new();
    m.insert("changed".into(), changed.into());
    m.insert("actions".into(), (actions as i64).into());
    m.into()
}

/// A command's result for the plan: #{code, stdout, stderr}, added to `map`.
pub fn insert_output(map: &mut Map, out: &crate::executor::CommandOutput) {
    map.insert("code".into(), (out.code as i64).into());
    map.insert("stdout".into(), out.stdout.clone().into());
    map.insert("stderr".into(), out.stderr.clone().into());
}
