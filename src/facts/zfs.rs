//! Typed readings of `zpool list -H`, `zfs list -H`, `zfs get -H` (contracts §C), plus the
//! human size format OpenZFS prints (`zfs_nicebytes`: `19.9G`, `450K`, `0B`) and `-p` numbers.

use indexmap::IndexMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZfsParseError {
    #[error("line {line}: expected {expected} TAB-separated fields, found {found}: '{text}'")]
    Fields { line: usize, expected: usize, found: usize, text: String },
    #[error("line {line}: unknown property source '{source_text}'")]
    Source { line: usize, source_text: String },
}

/// One row of `-H` output, keyed by the requested column names (`-o name,size,health`).
pub type Row = IndexMap<String, String>;

/// `zpool list -H -o <cols>`: one row per pool, fields separated by a single TAB.
pub fn parse_zpool_list_h(text: &str, cols: &[&str]) -> Result<Vec<Row>, ZfsParseError> {
    parse_tab_rows(text, cols)
}

/// `zfs list -H -o <cols>`: same shape as `zpool list -H`.
pub fn parse_zfs_list_h(text: &str, cols: &[&str]) -> Result<Vec<Row>, ZfsParseError> {
    parse_tab_rows(text, cols)
}

fn parse_tab_rows(text: &str, cols: &[&str]) -> Result<Vec<Row>, ZfsParseError> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        // A single TAB separates fields; values may contain spaces (mountpoints, user props).
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != cols.len() {
            return Err(ZfsParseError::Fields {
                line: idx + 1,
                expected: cols.len(),
                found: fields.len(),
                text: line.to_string(),
            });
        }
        out.push(cols.iter().zip(fields).map(|(c, f)| (c.to_string(), f.to_string())).collect());
    }
    Ok(out)
}

/// Where a property value comes from (`SOURCE` column).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum PropSource {
    Local,
    Default,
    Inherited(String),
    Temporary,
    Received,
    /// `-`: read-only/statistic properties and unset user properties.
    None,
}

impl PropSource {
    pub fn parse(s: &str) -> Option<PropSource> {
        Some(match s {
            "local" => PropSource::Local,
            "default" => PropSource::Default,
            "temporary" => PropSource::Temporary,
            "received" => PropSource::Received,
            "-" => PropSource::None,
            other => PropSource::Inherited(other.strip_prefix("inherited from ")?.to_string()),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ZfsProp {
    pub name: String,
    pub property: String,
    pub value: String,
    pub source: PropSource,
}

/// `zfs get -H [-p] <props> <ds>` with the default columns NAME PROPERTY VALUE SOURCE.
pub fn parse_zfs_get_h(text: &str) -> Result<Vec<ZfsProp>, ZfsParseError> {
    let rows = parse_tab_rows(text, &["name", "property", "value", "source"])?;
    rows.into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            let src = r.swap_remove("source").unwrap_or_default();
            let source = PropSource::parse(&src).ok_or(ZfsParseError::Source { line: i + 1, source_text: src })?;
            Ok(ZfsProp {
                name: r.swap_remove("name").unwrap_or_default(),
                property: r.swap_remove("property").unwrap_or_default(),
                value: r.swap_remove("value").unwrap_or_default(),
                source,
            })
        })
        .collect()
}

const SUFFIXES: [char; 7] = ['B', 'K', 'M', 'G', 'T', 'P', 'E'];

/// Parse a size as zfs/zpool print it: exact (`-p`, `1234`) or human (`19.9G`, `450K`, `0B`,
/// `1.81T`; 1024-based). `-` (not applicable) and anything else → `None`. Human sizes are
/// rounded, so the result is approximate; use `-p` where exactness matters.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, exp) = match s.chars().last()? {
        c if SUFFIXES.contains(&c) => (&s[..s.len() - 1], SUFFIXES.iter().position(|x| *x == c)?),
        _ => (s, 0),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let mult = 1024u64.checked_pow(u32::try_from(exp).ok()?)?;
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mult);
    }
    let f: f64 = num.parse().ok()?;
    let bytes = (f * mult as f64).round();
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Format bytes as OpenZFS `zfs_nicebytes` does: exact multiples without decimals (`8G`),
/// otherwise the most decimals (2, 1, 0) that fit in 5 characters (`19.9G`, `1.81T`).
pub fn format_size(bytes: u64) -> String {
    let mut n = bytes;
    let mut index = 0;
    while n >= 1024 && index < SUFFIXES.len() - 1 {
        n /= 1024;
        index += 1;
    }
    let unit = SUFFIXES[index];
    let divisor = 1024u64.pow(index as u32);
    if index == 0 || bytes.is_multiple_of(divisor) {
        return format!("{n}{unit}");
    }
    let val = bytes as f64 / divisor as f64;
    for precision in [2usize, 1, 0] {
        let s = format!("{val:.precision$}{unit}");
        if s.len() <= 5 {
            return s;
        }
    }
    format!("{val:.0}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zpool_list_contract_example() {
        let rows = parse_zpool_list_h("tank\t1.81T\tONLINE\n", &["name", "size", "health"]).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["name"], "tank");
        assert_eq!(rows[0]["size"], "1.81T");
        assert_eq!(rows[0]["health"], "ONLINE");
        assert!(parse_zpool_list_h("", &["name"]).unwrap().is_empty());
    }

    #[test]
    fn zfs_list_contract_example_and_errors() {
        let cols = ["name", "used", "avail", "mountpoint"];
        let rows = parse_zfs_list_h("tank/data\t96K\t1.75T\t/tank/data\r\ntank/vm-1\t8G\t1.75T\t-\n", &cols).unwrap();
        assert_eq!(rows[0]["mountpoint"], "/tank/data");
        assert_eq!(rows[1]["mountpoint"], "-");
        assert_eq!(parse_size(&rows[0]["used"]), Some(96 * 1024));
        let spaced = parse_zfs_list_h("tank/x\t0B\t1T\t/mnt/with space\n", &cols).unwrap();
        assert_eq!(spaced[0]["mountpoint"], "/mnt/with space");
        let e = parse_zfs_list_h("tank/data\t96K\n", &cols).unwrap_err();
        assert_eq!(e, ZfsParseError::Fields { line: 1, expected: 4, found: 2, text: "tank/data\t96K".into() });
        assert!(parse_zfs_list_h("cannot open 'x': dataset does not exist\n", &cols).is_err());
    }

    #[test]
    fn zfs_get() {
        let text = "tank\tcompression\tlz4\tlocal\ntank/a\tcompression\tlz4\tinherited from tank\ntank/a\torg:key\t-\t-\ntank/a\tatime\ton\tdefault\n";
        let p = parse_zfs_get_h(text).unwrap();
        assert_eq!(p[0].source, PropSource::Local);
        assert_eq!(p[1].source, PropSource::Inherited("tank".into()));
        assert_eq!(p[2].value, "-");
        assert_eq!(p[2].source, PropSource::None);
        assert_eq!(p[3].source, PropSource::Default);
        assert_eq!(p[1].name, "tank/a");
        assert_eq!(p[1].property, "compression");
        assert!(matches!(parse_zfs_get_h("tank\tx\ty\tweird\n"), Err(ZfsParseError::Source { line: 1, .. })));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("450K"), Some(450 * 1024));
        assert_eq!(parse_size("19.9G"), Some((19.9 * (1u64 << 30) as f64).round() as u64));
        assert_eq!(parse_size("123456789"), Some(123456789));
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("-"), None);
        assert_eq!(parse_size("1.2.3G"), None);
        assert_eq!(format_size(0), "0B");
        assert_eq!(format_size(512), "512B");
        assert_eq!(format_size(450 * 1024), "450K");
        assert_eq!(format_size(8 << 30), "8G");
        assert_eq!(format_size((19.9 * (1u64 << 30) as f64) as u64), "19.9G");
        assert_eq!(format_size((1.81 * (1u64 << 40) as f64) as u64), "1.81T");
        assert_eq!(format_size(10239), "10.0K");
    }

    proptest::proptest! {
        /// Human formatting loses at most the rounding of 3 significant digits.
        #[test]
        fn human_size_roundtrip_is_close(n in 1u64..(1u64 << 60)) {
            let back = parse_size(&format_size(n)).unwrap();
            let err = (back as f64 - n as f64).abs() / n as f64;
            proptest::prop_assert!(err < 0.01, "{} -> {} -> {}", n, format_size(n), back);
        }
    }
}
