//! `/etc/exports` lines (exports(5)): `<path> <client>(<opt>,<opt>) <client>(…)`.
//!
//! exports(5) splits a line on blanks, a client from its options at `(`, options at `,`; a
//! newline starts a new export. So a path or client with a blank, a newline or a parenthesis,
//! or an option with a `,`, a blank or a parenthesis would change what is exported to whom
//! (`"rw\n/ *(rw,no_root_squash)"` as an option would export `/` to everyone). They are refused.

use super::error::{token, GenerateError, Refusal};

const PATH_FORBIDDEN: &[(char, Refusal)] =
    &[('(', Refusal::Parenthesis), (')', Refusal::Parenthesis), ('#', Refusal::Hash), ('"', Refusal::KeyCharset)];
const CLIENT_FORBIDDEN: &[(char, Refusal)] = &[
    ('(', Refusal::Parenthesis),
    (')', Refusal::Parenthesis),
    (',', Refusal::Comma),
    ('#', Refusal::Hash),
    ('"', Refusal::KeyCharset),
];
const OPTION_FORBIDDEN: &[(char, Refusal)] = &[
    ('(', Refusal::Parenthesis),
    (')', Refusal::Parenthesis),
    (',', Refusal::Comma),
    ('#', Refusal::Hash),
    ('"', Refusal::KeyCharset),
];

/// One export line (without the newline). Every client gets the same options; an export
/// without clients is refused (exports(5) would export to the world).
pub fn exports_line(path: &str, clients: &[String], options: &[String]) -> Result<String, GenerateError> {
    let at = |what: &str| format!("export {} {what}", super::error::shown(path));
    token(&at("path"), path, PATH_FORBIDDEN)?;
    if !path.starts_with('/') {
        return Err(GenerateError::new(at("path"), path, Refusal::NotAllowedWord));
    }
    if clients.is_empty() {
        return Err(GenerateError::new(at("clients"), "", Refusal::Empty));
    }
    for o in options {
        token(&at("option"), o, OPTION_FORBIDDEN)?;
    }
    let opts = options.join(",");
    let mut line = path.to_string();
    for c in clients {
        token(&at("client"), c, CLIENT_FORBIDDEN)?;
        line.push(' ');
        line.push_str(c);
        line.push('(');
        line.push_str(&opts);
        line.push(')');
    }
    Ok(line)
}

/// One client of an export line and its options.
pub type ClientOptions = (String, Vec<String>);

/// An exports line read back: path, then `(client, options)` pairs. For tests and drift checks.
pub fn parse_exports_line(line: &str) -> Option<(String, Vec<ClientOptions>)> {
    let mut words = line.split_whitespace();
    let path = words.next()?.to_string();
    let mut clients = Vec::new();
    for w in words {
        let (client, rest) = w.split_once('(')?;
        let opts = rest.strip_suffix(')')?;
        let opts = if opts.is_empty() { Vec::new() } else { opts.split(',').map(str::to_string).collect() };
        clients.push((client.to_string(), opts));
    }
    Some((path, clients))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn composes_and_parses_back() {
        let line = exports_line("/tank/media", &s(&["10.0.0.0/24", "*.lab"]), &s(&["rw", "sync"])).unwrap();
        assert_eq!(line, "/tank/media 10.0.0.0/24(rw,sync) *.lab(rw,sync)");
        let (p, c) = parse_exports_line(&line).unwrap();
        assert_eq!(p, "/tank/media");
        assert_eq!(c, vec![("10.0.0.0/24".into(), s(&["rw", "sync"])), ("*.lab".into(), s(&["rw", "sync"]))]);
    }

    #[test]
    fn refuses_what_would_export_more() {
        let e = exports_line("/tank", &s(&["10.0.0.0/24"]), &s(&["rw\n/ *(rw,no_root_squash)"])).unwrap_err();
        assert_eq!(e.reason, Refusal::ControlChar);
        assert_eq!(e.field, "export \"/tank\" option");
        assert_eq!(exports_line("/tank", &s(&["a b"]), &[]).unwrap_err().reason, Refusal::Whitespace);
        assert_eq!(exports_line("/tank", &s(&["*(rw)"]), &[]).unwrap_err().reason, Refusal::Parenthesis);
        assert_eq!(exports_line("/tank", &s(&["x"]), &s(&["rw,no_root_squash"])).unwrap_err().reason, Refusal::Comma);
        assert_eq!(exports_line("/a b", &s(&["x"]), &[]).unwrap_err().reason, Refusal::Whitespace);
        assert_eq!(exports_line("tank", &s(&["x"]), &[]).unwrap_err().reason, Refusal::NotAllowedWord);
        assert_eq!(exports_line("/tank", &[], &[]).unwrap_err().reason, Refusal::Empty);
    }
}
