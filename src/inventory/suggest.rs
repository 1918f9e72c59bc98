//! "Did you mean …?" for misspelt keys, features and names.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["cores", "memory_mb", "storage_pool"];
        assert_eq!(did_you_mean("corse", known), Some("cores"));
        assert_eq!(did_you_mean("memory", known), Some("memory_mb"));
        assert_eq!(did_you_mean("xyz", known), None);
    }
}
