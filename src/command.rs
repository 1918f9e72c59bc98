//! A host command as an argv vector. Never a string: connectors hand the vector to the process
//! (local, sim) or quote every element for the remote shell (ssh).

use crate::secret::Secret;
use serde::Serialize;
use std::fmt;

/// One argv element. A secret element is masked in every rendering.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Arg {
    Plain(String),
    Secret(Secret),
}

impl Arg {
    /// The real text, for connectors only.
    pub fn expose(&self) -> &str {
        match self {
            Arg::Plain(s) => s,
            Arg::Secret(s) => s.expose(),
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Plain(s) => f.write_str(s),
            Arg::Secret(s) => write!(f, "{s}"),
        }
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Plain(s.to_string())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Plain(s)
    }
}
impl From<&String> for Arg {
    fn from(s: &String) -> Self {
        Arg::Plain(s.clone())
    }
}
impl From<Secret> for Arg {
    fn from(s: Secret) -> Self {
        Arg::Secret(s)
    }
}

/// A command to run on the host (or, through `pct exec`/`qm guest exec`, in a guest).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Command {
    pub argv: Vec<Arg>,
    /// Bytes fed to the command's standard input (e.g. file content for `tee`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Vec<u8>>,
}

impl Command {
    pub fn new<I, A>(argv: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<Arg>,
    {
        Command { argv: argv.into_iter().map(Into::into).collect(), stdin: None }
    }

    pub fn arg(mut self, a: impl Into<Arg>) -> Self {
        self.argv.push(a.into());
        self
    }

    pub fn args<I, A>(mut self, more: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<Arg>,
    {
        self.argv.extend(more.into_iter().map(Into::into));
        self
    }

    pub fn with_stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// The program name (first argv element), or "" for an empty command.
    pub fn program(&self) -> &str {
        self.argv.first().map(Arg::expose).unwrap_or("")
    }

    /// The real argv, for connectors only.
    pub fn exposed_argv(&self) -> Vec<String> {
        self.argv.iter().map(|a| a.expose().to_string()).collect()
    }
}

/// Renders for humans and logs: arguments shell-quoted where needed, secrets masked. A script
/// given to `sh -c` that spans lines (phoenix's own fixed scripts, e.g. the locked writes) is
/// shown as `<script: N lines, sha256 …>`: its text is in phoenix's source, and spelled out it
/// would bury the arguments that differ from one action to the next.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut after_c = false;
        for (i, a) in self.argv.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match a {
                Arg::Plain(s) if after_c && s.contains('\n') => {
                    use sha2::Digest;
                    let digest = sha2::Sha256::digest(s.as_bytes());
                    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
                    write!(f, "<script: {} lines, sha256 {short}>", s.lines().count())?
                }
                Arg::Plain(s) => f.write_str(&crate::shell::quote(s))?,
                Arg::Secret(_) => f.write_str(Secret::MASK)?,
            }
            after_c = matches!(a, Arg::Plain(s) if s == "-c");
        }
        Ok(())
    }
}

/// What a finished command returned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Output {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == 0
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A command's result as plans see it, the same for host commands and both guest kinds.
#[derive(Debug, Clone, Default)]
pub struct CommandOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<&Output> for CommandOutput {
    fn from(out: &Output) -> Self {
        CommandOutput { code: out.code, stdout: out.stdout_str(), stderr: out.stderr_str() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_and_masks() {
        let c = Command::new(["pvesh", "set", "/x"]).arg("a b").arg(Secret::new("pw"));
        assert_eq!(c.to_string(), "pvesh set /x 'a b' ***");
        assert_eq!(c.exposed_argv()[4], "pw");
    }

    #[test]
    fn a_multi_line_sh_script_shows_as_its_size_and_digest_and_its_arguments_in_full() {
        let script = "set -eu\nmkdir -- \"$1\"\n";
        let c = Command::new(["sh", "-c", script, "sh", "/etc/pve/priv/lock/firewall-cluster"]);
        let shown = c.to_string();
        assert!(shown.starts_with("sh -c <script: 2 lines, sha256 "), "{shown}");
        assert!(shown.ends_with("> sh /etc/pve/priv/lock/firewall-cluster"), "{shown}");
        assert_eq!(c.exposed_argv()[2], script, "the connector still gets the script");
        // A one-line script, or a multi-line argument anywhere else, is shown as it is.
        assert_eq!(Command::new(["sh", "-c", "true"]).to_string(), "sh -c true");
        assert!(Command::new(["printf", "a\nb"]).to_string().contains('\n'));
    }
}
