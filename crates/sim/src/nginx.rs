//! `nginx` inside a guest: the configuration test (`-t`, `-T`, `-q`, `-c`, `-p`) and `-v`/`-V`,
//! answered the way nginx 1.22 (Debian 12) answers them. The test reads the main file and its
//! includes from the guest's files with nginx's own token rules (words, quotes, `#` comments,
//! `;`, `{`, `}`), resolves relative includes against the main file's directory (nginx's
//! conf_prefix), expands `*` patterns, and checks that the certificate, key and trusted-CA
//! files the configuration names exist. It does not know nginx's directive table: an unknown
//! directive passes here (the real `nginx -t` in the test suite catches those).
//!
//! Simplification: nginx prints errors found after the error log is opened (certificate files)
//! with a timestamp and pid; here every error uses the `nginx: [emerg]` form of parse errors.

use super::inside::{done, out};
use super::state::Guest;
use crate::output::Output;

/// Debian's compiled-in paths (`nginx -V`: --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf).
const PREFIX: &str = "/usr/share/nginx/";
const CONF: &str = "/etc/nginx/nginx.conf";
const VERSION: &str = "nginx version: nginx/1.22.1";

/// Directives whose argument is a file nginx opens while testing the configuration.
const FILE_DIRECTIVES: &[(&str, &str)] = &[
    ("ssl_certificate", "cannot load certificate"),
    ("ssl_certificate_key", "cannot load certificate key"),
    ("proxy_ssl_trusted_certificate", "SSL_CTX_load_verify_locations"),
    ("ssl_trusted_certificate", "SSL_CTX_load_verify_locations"),
    ("ssl_client_certificate", "SSL_CTX_load_verify_locations"),
];

/// Nesting deeper than this is an include loop (nginx itself would recurse until it fails).
const MAX_DEPTH: usize = 32;

pub(crate) fn run(g: &Guest, args: &[&str]) -> Output {
    let mut test = false;
    let mut dump = false;
    let mut quiet = false;
    let mut conf: Option<String> = None;
    let mut prefix = PREFIX.to_string();
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "-t" => test = true,
            "-T" => {
                test = true;
                dump = true;
            }
            "-q" => quiet = true,
            "-v" => return out(0, "", format!("{VERSION}\n")),
            "-V" => {
                return out(0, "", format!("{VERSION}\nconfigure arguments: --prefix={PREFIX} --conf-path={CONF}\n"))
            }
            "-c" | "-p" | "-g" | "-e" | "-s" => {
                let Some(v) = args.get(i + 1) else {
                    return out(1, "", format!("nginx: option \"{}\" requires {}\n", args[i], arg_name(args[i])));
                };
                match args[i] {
                    "-c" => conf = Some(v.to_string()),
                    "-p" => prefix = format!("{}/", v.trim_end_matches('/')),
                    "-s" => return out(1, "", "sim: nginx -s is not simulated (reload through systemctl)\n"),
                    _ => {}
                }
                i += 1;
            }
            other => return out(1, "", format!("nginx: invalid option: \"{}\"\n", other.trim_start_matches('-'))),
        }
        i += 1;
    }
    if !test {
        return out(
            1,
            "",
            "sim: only `nginx -t` (the configuration test) is simulated; the service runs through systemctl\n",
        );
    }
    let main = match conf {
        Some(c) if c.starts_with('/') => c,
        Some(c) => format!("{prefix}{c}"),
        None => CONF.to_string(),
    };
    let conf_prefix = main.rsplit_once('/').map(|(d, _)| format!("{d}/")).unwrap_or_default();
    let mut check = Check { g, conf_prefix, dumped: String::new() };
    let result = match g.files.get(&main) {
        None => Err(format!("open() \"{main}\" failed (2: No such file or directory)")),
        Some(_) => check.file(&main, 0),
    };
    match result {
        Err(e) => out(1, "", format!("nginx: [emerg] {e}\nnginx: configuration file {main} test failed\n")),
        Ok(()) => {
            let stdout = if dump { check.dumped } else { String::new() };
            if quiet {
                done(stdout)
            } else {
                out(
                    0,
                    stdout,
                    format!(
                        "nginx: the configuration file {main} syntax is ok\nnginx: configuration file {main} test is successful\n"
                    ),
                )
            }
        }
    }
}

fn arg_name(opt: &str) -> &'static str {
    match opt {
        "-c" => "file name",
        "-p" => "prefix path",
        "-e" => "error log file",
        "-s" => "signal",
        _ => "directives",
    }
}

struct Check<'a> {
    g: &'a Guest,
    conf_prefix: String,
    /// What `nginx -T` prints: each file read, with its name.
    dumped: String,
}

/// One token of a configuration file and the line it is on.
enum Tok {
    Word(String),
    Semi,
    Open,
    Close,
}

impl Check<'_> {
    fn full_name(&self, name: &str) -> String {
        if name.starts_with('/') {
            name.to_string()
        } else {
            format!("{}{name}", self.conf_prefix)
        }
    }

    fn file(&mut self, path: &str, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("include nesting too deep at {path} (an include loop?)"));
        }
        let data = self.g.files.get(path).map(|f| f.content.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&data).into_owned();
        self.dumped.push_str(&format!("# configuration file {path}:\n{text}\n"));
        // A package's stub file (the catalogue's `#!sim` marker) stands for its stock content,
        // which nginx accepts.
        if text.starts_with("#!sim ") {
            return Ok(());
        }
        let toks = tokens(&text, path)?;
        let mut words: Vec<String> = Vec::new();
        let mut open_blocks: Vec<usize> = Vec::new();
        let mut has_events = false;
        for (tok, line) in toks {
            match tok {
                Tok::Word(w) => words.push(w),
                Tok::Semi => {
                    if words.is_empty() {
                        return Err(format!("unexpected \";\" in {path}:{line}"));
                    }
                    self.directive(&words, path, line, depth)?;
                    words.clear();
                }
                Tok::Open => {
                    if words.is_empty() {
                        return Err(format!("unexpected \"{{\" in {path}:{line}"));
                    }
                    if depth == 0 && open_blocks.is_empty() && words[0] == "events" {
                        has_events = true;
                    }
                    open_blocks.push(line);
                    words.clear();
                }
                Tok::Close => {
                    if !words.is_empty() {
                        return Err(format!("unexpected \"}}\" in {path}:{line}"));
                    }
                    if open_blocks.pop().is_none() {
                        return Err(format!("unexpected \"}}\" in {path}:{line}"));
                    }
                }
            }
        }
        let last = text.lines().count().max(1);
        if !words.is_empty() {
            return Err(format!("unexpected end of file, expecting \";\" or \"}}\" in {path}:{last}"));
        }
        if !open_blocks.is_empty() {
            return Err(format!("unexpected end of file, expecting \"}}\" in {path}:{last}"));
        }
        if depth == 0 && !has_events {
            return Err("no \"events\" section in configuration".to_string());
        }
        Ok(())
    }

    fn directive(&mut self, words: &[String], path: &str, line: usize, depth: usize) -> Result<(), String> {
        let name = words[0].as_str();
        if name == "include" {
            let Some(pattern) = words.get(1) else {
                return Err(format!("invalid number of arguments in \"include\" directive in {path}:{line}"));
            };
            let full = self.full_name(pattern);
            if full.contains('*') || full.contains('?') || full.contains('[') {
                // glob(): no match is fine; matches are read in sorted order.
                let mut matches: Vec<String> = self.g.files.keys().filter(|k| glob_match(&full, k)).cloned().collect();
                matches.sort();
                for m in matches {
                    self.file(&m, depth + 1)?;
                }
            } else if self.g.files.contains_key(&full) {
                self.file(&full, depth + 1)?;
            } else {
                return Err(format!("open() \"{full}\" failed (2: No such file or directory) in {path}:{line}"));
            }
            return Ok(());
        }
        if let Some((_, what)) = FILE_DIRECTIVES.iter().find(|(d, _)| *d == name) {
            let Some(arg) = words.get(1) else {
                return Err(format!("invalid number of arguments in \"{name}\" directive in {path}:{line}"));
            };
            // A variable in the path is resolved per connection, not at test time.
            if arg.contains('$') || arg.starts_with("data:") {
                return Ok(());
            }
            let full = self.full_name(arg);
            if !self.g.files.contains_key(&full) {
                let ssl = format!(
                    "(SSL: error:80000002:system library::No such file or directory:calling fopen({full}, r) error:10000080:BIO routines::no such file)"
                );
                return Err(if what.starts_with("SSL_CTX") {
                    format!("{what}(\"{full}\") failed {ssl}")
                } else {
                    format!("{what} \"{full}\": BIO_new_file() failed {ssl}")
                });
            }
        }
        Ok(())
    }
}

/// nginx's tokenizer: whitespace separates words; `;`, `{`, `}` are tokens of their own; `#`
/// at the start of a word comments out the rest of the line; "…" and '…' quote with `\`
/// escapes. Each token carries its 1-based line.
fn tokens(text: &str, path: &str) -> Result<Vec<(Tok, usize)>, String> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    let mut word = String::new();
    let mut in_word = false;
    let flush = |word: &mut String, in_word: &mut bool, out: &mut Vec<(Tok, usize)>, line: usize| {
        if *in_word {
            out.push((Tok::Word(std::mem::take(word)), line));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                flush(&mut word, &mut in_word, &mut out, line);
                line += 1;
            }
            c if c.is_whitespace() => flush(&mut word, &mut in_word, &mut out, line),
            ';' | '{' | '}' => {
                flush(&mut word, &mut in_word, &mut out, line);
                out.push((
                    match c {
                        ';' => Tok::Semi,
                        '{' => Tok::Open,
                        _ => Tok::Close,
                    },
                    line,
                ));
            }
            '#' if !in_word => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '"' | '\'' if !in_word => {
                let start = line;
                let mut closed = false;
                while let Some(n) = chars.next() {
                    match n {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                word.push(e);
                            }
                        }
                        n if n == c => {
                            closed = true;
                            break;
                        }
                        '\n' => {
                            line += 1;
                            word.push(n);
                        }
                        n => word.push(n),
                    }
                }
                if !closed {
                    return Err(format!("unexpected end of file, expecting \";\" or \"}}\" in {path}:{start}"));
                }
                out.push((Tok::Word(std::mem::take(&mut word)), line));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    flush(&mut word, &mut in_word, &mut out, line);
    Ok(out)
}

/// Shell-style match of `*` and `?` (enough for nginx include patterns such as
/// `/etc/nginx/conf.d/*.conf`); `*` does not cross `/`.
fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && n[0] != b'/' && go(p, &n[1..])),
            (Some(b'?'), Some(c)) if *c != b'/' => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::FileData;

    fn guest(files: &[(&str, &str)]) -> Guest {
        let mut g: Guest = serde_json::from_value(serde_json::json!({"kind": "lxc", "config": {}})).unwrap();
        for (p, c) in files {
            g.files.insert(
                p.to_string(),
                FileData { content: c.as_bytes().to_vec(), mode: 0o644, owner: "root".into(), group: "root".into() },
            );
        }
        g
    }

    fn t(g: &Guest, args: &[&str]) -> (i32, String) {
        let o = run(g, args);
        (o.code, String::from_utf8_lossy(&o.stderr).into_owned())
    }

    const MAIN: &str = "user www-data;\nevents {\n    worker_connections 1024;\n}\nhttp {\n    include gw.conf;\n}\n";

    #[test]
    fn a_sound_configuration_passes_with_nginx_words() {
        let g = guest(&[
            ("/etc/nginx/c/nginx.conf", MAIN),
            (
                "/etc/nginx/c/gw.conf",
                "server { listen 443 ssl; ssl_certificate /s/a.crt; # x; {\n return 301 \"a;b\"; }\n",
            ),
            ("/s/a.crt", "cert"),
        ]);
        let (code, err) = t(&g, &["-t", "-c", "/etc/nginx/c/nginx.conf"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            err,
            "nginx: the configuration file /etc/nginx/c/nginx.conf syntax is ok\nnginx: configuration file /etc/nginx/c/nginx.conf test is successful\n"
        );
        assert_eq!(t(&g, &["-t", "-q", "-c", "/etc/nginx/c/nginx.conf"]), (0, String::new()));
    }

    #[test]
    fn failures_read_like_nginx() {
        let g = guest(&[("/etc/nginx/c/nginx.conf", MAIN), ("/etc/nginx/c/gw.conf", "server {\n listen 80;\n")]);
        assert_eq!(
            t(&g, &["-t", "-c", "/etc/nginx/c/nginx.conf"]),
            (
                1,
                "nginx: [emerg] unexpected end of file, expecting \"}\" in /etc/nginx/c/gw.conf:2\nnginx: configuration file /etc/nginx/c/nginx.conf test failed\n"
                    .into()
            )
        );
        let g = guest(&[("/etc/nginx/c/nginx.conf", MAIN), ("/etc/nginx/c/gw.conf", "}\n")]);
        assert!(t(&g, &["-t", "-c", "/etc/nginx/c/nginx.conf"])
            .1
            .contains("unexpected \"}\" in /etc/nginx/c/gw.conf:1"));
        let g = guest(&[("/etc/nginx/c/nginx.conf", MAIN)]);
        assert!(t(&g, &["-t", "-c", "/etc/nginx/c/nginx.conf"]).1.contains(
            "open() \"/etc/nginx/c/gw.conf\" failed (2: No such file or directory) in /etc/nginx/c/nginx.conf:6"
        ));
        let g = guest(&[("/etc/nginx/c/nginx.conf", MAIN), ("/etc/nginx/c/gw.conf", "ssl_certificate /s/none.crt;\n")]);
        let (code, err) = t(&g, &["-t", "-c", "/etc/nginx/c/nginx.conf"]);
        assert_eq!(code, 1);
        assert!(
            err.starts_with("nginx: [emerg] cannot load certificate \"/s/none.crt\": BIO_new_file() failed"),
            "{err}"
        );
        assert_eq!(t(&guest(&[]), &["-t"]).1, "nginx: [emerg] open() \"/etc/nginx/nginx.conf\" failed (2: No such file or directory)\nnginx: configuration file /etc/nginx/nginx.conf test failed\n");
        let g = guest(&[("/etc/nginx/nginx.conf", "http {}\n")]);
        assert!(t(&g, &["-t"]).1.contains("no \"events\" section in configuration"));
    }

    #[test]
    fn globs_and_include_loops() {
        assert!(glob_match("/etc/nginx/conf.d/*.conf", "/etc/nginx/conf.d/a.conf"));
        assert!(!glob_match("/etc/nginx/conf.d/*.conf", "/etc/nginx/conf.d/.a.conf.new"));
        assert!(!glob_match("/etc/nginx/*.conf", "/etc/nginx/x/a.conf"));
        let g = guest(&[
            ("/etc/nginx/nginx.conf", "events {}\ninclude loop.conf;\n"),
            ("/etc/nginx/loop.conf", "include loop.conf;\n"),
        ]);
        assert!(t(&g, &["-t"]).1.contains("include nesting too deep"));
    }
}
