//! "Did you mean" for names: the closest candidate by edit distance, if close enough to help.

pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let mut score = strsim::jaro_winkler(name, c);
        // Short names: one typo (a swap, a missing or extra letter) is close even when the
        // Jaro-Winkler score is not (`zsf` → `zfs`).
        if strsim::damerau_levenshtein(name, c) <= 1 && name.chars().count() >= 3 {
            score = score.max(0.9);
        }
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggests_near_names_only() {
        let c = ["ensure_dataset", "datasets", "pools"];
        assert_eq!(super::closest("ensure_datset", c.iter().copied()).as_deref(), Some("ensure_dataset"));
        assert_eq!(super::closest("frobnicate", c.iter().copied()), None);
    }
}
