//! systemd unit lines (`ExecStart=` of the units the features write). systemd splits a command
//! line on blanks, honours double quotes with backslash escapes, and expands `%` specifiers and
//! `$VARS`; so every argument is escaped for those. A newline cannot be escaped on a unit line —
//! it would end the line and start another directive (`ExecStartPre=/bin/evil`) — so an
//! argument with a control character is refused.

use super::error::{no_control, GenerateError};

/// Characters an argument may hold without quotes.
fn plain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-./:=@+,%$".contains(c)
}

/// One argument for an `ExecStart=` line.
pub fn exec_arg(field: &str, arg: &str) -> Result<String, GenerateError> {
    no_control(field, arg)?;
    let s = arg.replace('%', "%%").replace('$', "$$");
    if !s.is_empty() && s.chars().all(plain_char) {
        return Ok(s);
    }
    Ok(format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// An `ExecStart=` command line from an argv vector.
pub fn exec_line(argv: &[String]) -> Result<String, GenerateError> {
    let args: Result<Vec<String>, GenerateError> =
        argv.iter().enumerate().map(|(i, a)| exec_arg(&format!("ExecStart argument {}", i + 1), a)).collect();
    Ok(args?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::Refusal;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quotes_and_escapes_like_systemd_reads() {
        assert_eq!(
            exec_line(&v(&["/opt/v/bin/vllm", "serve", "Qwen/Qwen2.5", "--max-model-len", "8192"])).unwrap(),
            "/opt/v/bin/vllm serve Qwen/Qwen2.5 --max-model-len 8192"
        );
        assert_eq!(exec_line(&v(&["a b", "50%", "$HOME", "q\"x\\"])).unwrap(), "\"a b\" 50%% $$HOME \"q\\\"x\\\\\"");
        assert_eq!(exec_line(&v(&[""])).unwrap(), "\"\"");
    }

    #[test]
    fn a_newline_cannot_add_a_directive() {
        let e = exec_line(&v(&["serve", "m\nExecStartPre=/bin/evil"])).unwrap_err();
        assert_eq!(e.reason, Refusal::ControlChar);
        assert_eq!(e.field, "ExecStart argument 2");
    }
}
