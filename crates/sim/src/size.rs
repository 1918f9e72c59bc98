//! Sizes as the simulated tools read and print them. Two families that must not be mixed up:
//! Proxmox's `disk-size` (pve-common `JSONSchema::parse_size`/`format_size`: `8G`, `3584M`,
//! exact units only) and OpenZFS's (`zfs_nicestrtonum` in, `zfs_nicenum_format` out: `1.50G`,
//! `19.9G`, 5 characters at most).

const KIB: u64 = 1024;

/// Proxmox `parse_size`: `^(\d+(\.\d+)?)([KMGT])?$` (case-sensitive), no suffix = bytes; the
/// product is computed in floating point and truncated, like Perl's `int($size * $mult)`.
pub(crate) fn pve_parse(v: &str) -> Option<u64> {
    let (number, mult) = match v.as_bytes().last()? {
        b'K' => (&v[..v.len() - 1], KIB),
        b'M' => (&v[..v.len() - 1], KIB.pow(2)),
        b'G' => (&v[..v.len() - 1], KIB.pow(3)),
        b'T' => (&v[..v.len() - 1], KIB.pow(4)),
        _ => (v, 1),
    };
    if !is_decimal(number) {
        return None;
    }
    let value = number.parse::<f64>().ok()? * mult as f64;
    (value.is_finite() && value < u64::MAX as f64).then_some(value as u64)
}

/// `\d+(\.\d+)?`
fn is_decimal(s: &str) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// Proxmox `format_size`: the largest unit that divides the size exactly, up to `T`; plain
/// bytes when it is not a multiple of 1 KiB. Perl's loop falls through to `T` for zero, so
/// `0` prints `0T`.
pub(crate) fn pve_format(bytes: u64) -> String {
    let mut n = bytes;
    for unit in ["", "K", "M", "G"] {
        let next = n / KIB;
        if next * KIB != n {
            return format!("{n}{unit}");
        }
        n = next;
    }
    format!("{n}T")
}

/// Which unit table of `zfs_nicenum_format` to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NiceFormat {
    /// `ZFS_NICENUM_1024`: no unit under 1 KiB (`512`).
    Plain,
    /// `ZFS_NICENUM_BYTES` (`zfs_nicebytes`): `B` under 1 KiB (`0B`).
    Bytes,
}

/// `zfs_nicenum_format`: divide by 1024 while possible (up to `E`); an exact multiple of the
/// unit prints without decimals (`128K`, `8G`), otherwise the most decimals (2, then 1, then 0)
/// whose text fits in 5 characters (`1.50G`, `19.9G`, `450K`).
pub(crate) fn zfs_nicenum(num: u64, format: NiceFormat) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let mut n = num;
    let mut index = 0;
    while n >= KIB && index < UNITS.len() - 1 {
        n /= KIB;
        index += 1;
    }
    let unit = match (index, format) {
        (0, NiceFormat::Bytes) => "B",
        _ => UNITS[index],
    };
    let divisor = KIB.pow(index as u32);
    if index == 0 || num.is_multiple_of(divisor) {
        return format!("{n}{unit}");
    }
    let value = num as f64 / divisor as f64;
    let mut text = String::new();
    for decimals in [2usize, 1, 0] {
        text = format!("{value:.decimals$}{unit}");
        if text.len() <= 5 {
            break;
        }
    }
    text
}

/// `zfs_nicestrtonum`: a number, optionally with a decimal part, then an optional unit letter
/// `B K M G T P E` in either case, optionally followed by `B` or `iB` (`10G`, `1.5k`, `4GiB`);
/// a fraction needs a unit. No unit = bytes.
pub(crate) fn zfs_parse(v: &str) -> Option<u64> {
    let split = v.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(v.len());
    let (number, suffix) = v.split_at(split);
    if !is_decimal(number) {
        return None;
    }
    let upper = suffix.to_ascii_uppercase();
    let letter = upper.chars().next();
    let rest = upper.get(1..).unwrap_or("");
    let shift = match letter {
        None => 0,
        Some('B') if rest.is_empty() => 0,
        Some(c) => {
            let shift = "BKMGTPE".find(c)?;
            if !matches!(rest, "" | "B" | "IB") {
                return None;
            }
            shift
        }
    };
    if shift == 0 && number.contains('.') {
        return None;
    }
    let mult = KIB.checked_pow(shift as u32)?;
    let value = number.parse::<f64>().ok()? * mult as f64;
    (value.is_finite() && value < u64::MAX as f64).then_some(value as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pve_parse_follows_the_perl_regex() {
        assert_eq!(pve_parse("8G"), Some(8 << 30));
        assert_eq!(pve_parse("1.5K"), Some(1536));
        assert_eq!(pve_parse("3584M"), Some(3584 << 20));
        assert_eq!(pve_parse("4"), Some(4));
        assert_eq!(pve_parse("2T"), Some(2 << 40));
        for bad in ["8g", "8GB", "", "G", ".5G", "5.G", "-1G", "1,5G", " 8G"] {
            assert_eq!(pve_parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pve_format_exact_units_only() {
        assert_eq!(pve_format(8 << 30), "8G");
        assert_eq!(pve_format(3584 << 20), "3584M");
        assert_eq!(pve_format(1536), "1536");
        assert_eq!(pve_format(1 << 40), "1T");
        assert_eq!(pve_format(1024 << 40), "1024T");
        assert_eq!(pve_format((1 << 30) + 512), "1073742336");
        assert_eq!(pve_format(0), "0T");
    }

    #[test]
    fn nicenum_like_libzfs() {
        use NiceFormat::*;
        assert_eq!(zfs_nicenum(0, Bytes), "0B");
        assert_eq!(zfs_nicenum(0, Plain), "0");
        assert_eq!(zfs_nicenum(512, Plain), "512");
        assert_eq!(zfs_nicenum(512, Bytes), "512B");
        assert_eq!(zfs_nicenum(131_072, Bytes), "128K");
        assert_eq!(zfs_nicenum(98_304, Bytes), "96K");
        assert_eq!(zfs_nicenum(460_800, Bytes), "450K");
        assert_eq!(zfs_nicenum(1_610_612_736, Bytes), "1.50G");
        assert_eq!(zfs_nicenum(21_367_462_298, Bytes), "19.9G");
        assert_eq!(zfs_nicenum(1_924_145_348_608, Bytes), "1.75T");
        assert_eq!(zfs_nicenum(2_254_857_830, Bytes), "2.10G");
        // 10239 bytes is 9.999K: two decimals would round to "10.00K" (6 chars), one gives 10.0K.
        assert_eq!(zfs_nicenum(10_239, Bytes), "10.0K");
        // 1023.9K does not fit with decimals and prints rounded without them.
        assert_eq!(zfs_nicenum(1_048_473, Bytes), "1024K");
        assert_eq!(zfs_nicenum(u64::MAX, Bytes), "16.0E");
    }

    #[test]
    fn zfs_parse_units() {
        assert_eq!(zfs_parse("10G"), Some(10 << 30));
        assert_eq!(zfs_parse("10g"), Some(10 << 30));
        assert_eq!(zfs_parse("1.5k"), Some(1536));
        assert_eq!(zfs_parse("4GiB"), Some(4 << 30));
        assert_eq!(zfs_parse("16KB"), Some(16 << 10));
        assert_eq!(zfs_parse("8192"), Some(8192));
        assert_eq!(zfs_parse("100B"), Some(100));
        for bad in ["", "G", "1.5", "10X", "10GG", "1..5G", "-1"] {
            assert_eq!(zfs_parse(bad), None, "{bad:?}");
        }
    }
}
