//! Column output of the ZFS tools: two spaces between columns, numeric columns right-aligned,
//! the last left-aligned column unpadded; `-H` = TAB-separated, no header. Plus `zfs_nicenum`.

pub(crate) struct Column {
    pub header: String,
    pub right: bool,
    /// Minimum width (the property table's width in libzfs).
    pub min_width: usize,
}

pub(crate) fn render(cols: &[Column], rows: &[Vec<String>], scripted: bool, header: bool) -> String {
    let mut out = String::new();
    if scripted {
        for r in rows {
            out.push_str(&r.join("\t"));
            out.push('\n');
        }
        return out;
    }
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|v| v.chars().count())
                .fold(c.header.len().max(c.min_width), usize::max)
        })
        .collect();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, v) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let right = cols.get(i).is_some_and(|c| c.right);
            let w = widths.get(i).copied().unwrap_or(0);
            if right {
                out.push_str(&format!("{v:>w$}"));
            } else if i == last {
                out.push_str(v);
            } else {
                out.push_str(&format!("{v:<w$}"));
            }
        }
        out.push('\n');
    };
    if header {
        line(cols.iter().map(|c| c.header.as_str()).collect());
    }
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// libzfs `zfs_nicenum` (`bytes == false`) or `zfs_nicebytes` (`bytes == true`, `0B`): see
/// [`crate::size::zfs_nicenum`].
pub(crate) fn nicenum(n: u64, bytes: bool) -> String {
    let format = if bytes { crate::size::NiceFormat::Bytes } else { crate::size::NiceFormat::Plain };
    crate::size::zfs_nicenum(n, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicenum_matches_libzfs() {
        assert_eq!(nicenum(0, true), "0B");
        assert_eq!(nicenum(131072, true), "128K");
        assert_eq!(nicenum(98_304, true), "96K");
        assert_eq!(nicenum(460_800, true), "450K");
        assert_eq!(nicenum(21_367_462_298, true), "19.9G");
        assert_eq!(nicenum(1_924_145_348_608, true), "1.75T");
        assert_eq!(nicenum(2_254_857_830, true), "2.10G");
    }

    #[test]
    fn table_layout() {
        let cols = vec![
            Column { header: "NAME".into(), right: false, min_width: 0 },
            Column { header: "USED".into(), right: true, min_width: 5 },
            Column { header: "MOUNTPOINT".into(), right: false, min_width: 0 },
        ];
        let rows = vec![vec!["tank".to_string(), "96K".to_string(), "/tank".to_string()]];
        assert_eq!(render(&cols, &rows, false, true), "NAME   USED  MOUNTPOINT\ntank    96K  /tank\n");
        assert_eq!(render(&cols, &rows, true, false), "tank\t96K\t/tank\n");
    }
}
