//! Simulated command latency: the longest matching word prefix of the argv wins; `*` is the
//! fallback. Sleeping happens in the host, outside the state mutex.

use indexmap::IndexMap;

pub(crate) fn lookup(table: &IndexMap<String, u64>, argv: &[String]) -> u64 {
    let mut best: Option<(usize, u64)> = None;
    for (key, ms) in table {
        if key == "*" {
            continue;
        }
        let words: Vec<&str> = key.split_whitespace().collect();
        let matches =
            !words.is_empty() && words.len() <= argv.len() && words.iter().zip(argv).all(|(w, a)| *w == a.as_str());
        if matches && best.is_none_or(|(n, _)| words.len() > n) {
            best = Some((words.len(), *ms));
        }
    }
    best.map(|(_, ms)| ms).or_else(|| table.get("*").copied()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn longest_prefix_wins() {
        let t: IndexMap<String, u64> =
            [("pct clone".to_string(), 800), ("pct".to_string(), 20), ("*".to_string(), 2)].into_iter().collect();
        assert_eq!(lookup(&t, &argv("pct clone 900 901")), 800);
        assert_eq!(lookup(&t, &argv("pct start 900")), 20);
        assert_eq!(lookup(&t, &argv("zfs list")), 2);
        assert_eq!(lookup(&t, &argv("pctx list")), 2);
        assert_eq!(lookup(&IndexMap::new(), &argv("pct list")), 0);
    }
}
