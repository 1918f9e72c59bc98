//! Option parsing the way PVE's Getopt::Long setup does it (contracts §0): `--opt v`, `-opt v`,
//! `--opt=v`, bare booleans, repeatable options, positionals in order, `--` ends options.
//! Also the small getopt used by zfs/zpool (`-Hp -o a,b`).

/// Parsed PVE-style arguments.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Args {
    pub positional: Vec<String>,
    /// Options in command-line order (repeatable ones appear several times).
    pub opts: Vec<(String, String)>,
    /// Everything after `--` (a command for `pct exec`/`qm guest exec`), if `--` was given.
    pub rest: Option<Vec<String>>,
}

/// Values PVE accepts for a boolean option.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" => Some(true),
        "0" | "no" | "off" | "false" => Some(false),
        _ => None,
    }
}

impl Args {
    /// `bools` names the options that may appear bare (value 1).
    pub fn parse(argv: &[String], bools: &[&str]) -> Result<Args, String> {
        let mut a = Args::default();
        let mut i = 0;
        while i < argv.len() {
            let tok = &argv[i];
            i += 1;
            if tok == "--" {
                a.rest = Some(argv[i..].to_vec());
                break;
            }
            let name = if let Some(n) = tok.strip_prefix("--") {
                n
            } else if let Some(n) = tok.strip_prefix('-') {
                // A negative number is a value, not an option.
                if n.is_empty() || n.starts_with(|c: char| c.is_ascii_digit()) {
                    a.positional.push(tok.clone());
                    continue;
                }
                n
            } else {
                a.positional.push(tok.clone());
                continue;
            };
            if let Some((k, v)) = name.split_once('=') {
                a.opts.push((k.to_string(), v.to_string()));
                continue;
            }
            if bools.contains(&name) {
                match argv.get(i).and_then(|v| parse_bool(v)) {
                    Some(b) => {
                        a.opts.push((name.to_string(), if b { "1" } else { "0" }.to_string()));
                        i += 1;
                    }
                    None => a.opts.push((name.to_string(), "1".to_string())),
                }
                continue;
            }
            match argv.get(i) {
                Some(v) => {
                    a.opts.push((name.to_string(), v.clone()));
                    i += 1;
                }
                None => return Err("400 unable to parse option\n".into()),
            }
        }
        Ok(a)
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.opts.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, name: &str) -> bool {
        self.get(name).and_then(parse_bool).unwrap_or(false)
    }
}

/// Parsed zfs/zpool style arguments: short flags (clustered, `-Hp`), flags with a value
/// (`-o x`, `-ox`), positionals.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ShortArgs {
    pub flags: Vec<char>,
    pub values: Vec<(char, String)>,
    pub positional: Vec<String>,
}

impl ShortArgs {
    /// `with_value` lists the flags taking an argument. Unknown flags are accepted as bare
    /// flags: the caller decides whether it cares.
    pub fn parse(argv: &[String], with_value: &[char]) -> Result<ShortArgs, String> {
        let mut a = ShortArgs::default();
        let mut i = 0;
        while i < argv.len() {
            let tok = &argv[i];
            i += 1;
            if tok == "--" {
                a.positional.extend(argv[i..].iter().cloned());
                break;
            }
            match tok.strip_prefix('-') {
                Some(cluster) if !cluster.is_empty() => {
                    let chars: Vec<char> = cluster.chars().collect();
                    let mut j = 0;
                    while j < chars.len() {
                        let c = chars[j];
                        j += 1;
                        if with_value.contains(&c) {
                            let rest: String = chars[j..].iter().collect();
                            let v = if !rest.is_empty() {
                                rest
                            } else {
                                let v = argv
                                    .get(i)
                                    .cloned()
                                    .ok_or_else(|| format!("missing argument for '-{c}' option"))?;
                                i += 1;
                                v
                            };
                            a.values.push((c, v));
                            break;
                        }
                        a.flags.push(c);
                    }
                }
                _ => a.positional.push(tok.clone()),
            }
        }
        Ok(a)
    }

    pub fn flag(&self, c: char) -> bool {
        self.flags.contains(&c)
    }

    pub fn value(&self, c: char) -> Option<&str> {
        self.values.iter().rev().find(|(k, _)| *k == c).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, c: char) -> impl Iterator<Item = &str> {
        self.values.iter().filter(move |(k, _)| *k == c).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn pve_forms() {
        let a = Args::parse(
            &v("100 --cores 2 -memory 512 --hostname=web --full --start 0 --onboot"),
            &["full", "start", "onboot"],
        )
        .unwrap();
        assert_eq!(a.positional, vec!["100"]);
        assert_eq!(a.get("cores"), Some("2"));
        assert_eq!(a.get("memory"), Some("512"));
        assert_eq!(a.get("hostname"), Some("web"));
        assert!(a.flag("full"));
        assert!(!a.flag("start"));
        assert!(a.flag("onboot"));
    }

    #[test]
    fn double_dash_rest_and_missing_value() {
        let a = Args::parse(&v("100 -- ls -la"), &[]).unwrap();
        assert_eq!(a.rest, Some(v("ls -la")));
        assert!(Args::parse(&v("100 --cores"), &[]).is_err());
    }

    #[test]
    fn short_clusters() {
        let a = ShortArgs::parse(&v("-Hpr -o name,used -s local tank"), &['o', 's']).unwrap();
        assert!(a.flag('H') && a.flag('p') && a.flag('r'));
        assert_eq!(a.value('o'), Some("name,used"));
        assert_eq!(a.value('s'), Some("local"));
        assert_eq!(a.positional, vec!["tank"]);
        let b = ShortArgs::parse(&v("-Ho name"), &['o']).unwrap();
        assert_eq!(b.value('o'), Some("name"));
    }
}
