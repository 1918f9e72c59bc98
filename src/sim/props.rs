//! Property strings (`name=eth0,bridge=vmbr0,…`) parsed and re-serialised the way PVE's
//! `print_property_string` does: the default key's value first (bare), then required keys
//! sorted, then optional keys sorted. A private adapter until `crate::facts::propstring` exists.

use indexmap::IndexMap;

pub(crate) type Props = IndexMap<String, String>;

/// Parse `a=1,b=2` (a bare first item is the value of `default_key`).
pub(crate) fn parse(s: &str, default_key: Option<&str>) -> Result<Props, String> {
    let mut out = Props::new();
    if s.is_empty() {
        return Ok(out);
    }
    for (i, part) in s.split(',').enumerate() {
        match part.split_once('=') {
            Some((k, v)) => {
                if out.insert(k.to_string(), v.to_string()).is_some() {
                    return Err(format!(
                        "duplicate key in comma-separated list property: {k}"
                    ));
                }
            }
            None => match default_key {
                Some(dk) if i == 0 => {
                    out.insert(dk.to_string(), part.to_string());
                }
                _ => {
                    return Err(format!(
                        "value without key, but schema does not define a default key: {part}"
                    ))
                }
            },
        }
    }
    Ok(out)
}

/// Canonical text.
pub(crate) fn print(p: &Props, default_key: Option<&str>, required: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(p.len());
    if let Some(dk) = default_key {
        if let Some(v) = p.get(dk) {
            parts.push(v.clone());
        }
    }
    let mut req: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| Some(*k) != default_key)
        .collect();
    req.sort_unstable();
    for k in &req {
        if let Some(v) = p.get(*k) {
            parts.push(format!("{k}={v}"));
        }
    }
    let mut rest: Vec<(&String, &String)> = p
        .iter()
        .filter(|(k, _)| Some(k.as_str()) != default_key && !req.contains(&k.as_str()))
        .collect();
    rest.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in rest {
        parts.push(format!("{k}={v}"));
    }
    parts.join(",")
}

/// Booleans inside property strings are normalised to 1/0 like top-level ones.
pub(crate) fn normalise_bools(p: &mut Props, keys: &[&str]) {
    for k in keys {
        if let Some(v) = p.get_mut(*k) {
            if let Some(b) = super::args::parse_bool(v) {
                *v = if b { "1" } else { "0" }.to_string();
            }
        }
    }
}

/// A size like `8G`, `512M`, `+2G`, `4` (GiB when bare, as PVE's disk-size for pct/qm resize and
/// `<storage>:<GiB>` allocations) → bytes.
pub(crate) fn parse_size(s: &str, bare_unit: u64) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        'T' | 't' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, bare_unit),
    };
    let v: f64 = num.parse().ok()?;
    if v < 0.0 || !v.is_finite() {
        return None;
    }
    Some((v * unit as f64).round() as u64)
}

/// PVE's disk-size rendering: the largest unit that divides exactly (`8G`, `3584M`).
pub(crate) fn format_size(bytes: u64) -> String {
    for (unit, suffix) in [
        (1u64 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ] {
        if bytes >= unit && bytes % unit == 0 {
            return format!("{}{}", bytes / unit, suffix);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_canonical() {
        let p = parse("ip=10.0.0.20/24,bridge=vmbr0,name=eth0,gw=10.0.0.1", None).unwrap();
        assert_eq!(
            print(&p, None, &["name"]),
            "name=eth0,bridge=vmbr0,gw=10.0.0.1,ip=10.0.0.20/24"
        );
    }

    #[test]
    fn default_key_first() {
        let p = parse(
            "local-zfs:subvol-100-disk-1,size=8G,mp=/data,backup=1",
            Some("volume"),
        )
        .unwrap();
        assert_eq!(
            print(&p, Some("volume"), &["mp"]),
            "local-zfs:subvol-100-disk-1,mp=/data,backup=1,size=8G"
        );
        assert!(parse("a,b", Some("volume")).is_err());
        assert!(parse("a", None).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8G", 1), Some(8 << 30));
        assert_eq!(parse_size("4", 1 << 30), Some(4 << 30));
        assert_eq!(format_size(3584 << 20), "3584M");
        assert_eq!(format_size(8 << 30), "8G");
    }
}
