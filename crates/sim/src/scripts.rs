//! Scripts the simulator runs without interpreting them: an executable guest file that is not a
//! catalogue program (`/usr/local/lib/phoenix/application.sh`), `sh`/`bash <file>` for a file
//! that is not a catalogue installer, and on the host `bash -s -- <args…>` with the script on
//! stdin (health checks). Each run exits 0, changes nothing and is recorded (path, SHA-256 of
//! the content, arguments) in `script_runs`.
//!
//! Why not interpret them: phoenix relies only on a script's exit status and on the content hash
//! it keeps itself (the application script runs again only when its hash changed), so a
//! recorded successful run is exactly what the plans observe. Tests count the records to see
//! that a script ran, and how often; a failing script is a fault injection away.

use super::inside::{done, out};
use super::reply::{die, ok};
use super::state::{Guest, ScriptRun, SimState};
use crate::output::Output;
use sha2::{Digest, Sha256};

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Run the guest file `path` (already known to exist) with `args`.
pub(crate) fn run_guest(g: &mut Guest, path: &str, args: &[&str]) -> Output {
    let Some(f) = g.files.get(path) else {
        return out(127, "", format!("sh: 0: cannot open {path}: No such file"));
    };
    let sha256 = sha256_hex(&f.content);
    g.os.script_runs.push(ScriptRun {
        path: path.to_string(),
        sha256,
        args: args.iter().map(|a| a.to_string()).collect(),
    });
    done("")
}

/// `bash|sh -s [--] <args…>` (script on stdin) or `bash|sh <host file> <args…>` on the host.
pub(crate) fn run_host(st: &mut SimState, shell: &str, args: &[String], stdin: Option<&[u8]>) -> Output {
    let (path, content, rest): (String, Vec<u8>, &[String]) = match args.first().map(String::as_str) {
        Some("-s") => {
            let rest = &args[1..];
            let rest = if rest.first().is_some_and(|a| a == "--") { &rest[1..] } else { rest };
            ("-".into(), stdin.unwrap_or_default().to_vec(), rest)
        }
        Some(p) if !p.starts_with('-') => match st.files.get(p) {
            Some(f) => (p.to_string(), f.content.clone(), &args[1..]),
            None => return die(format!("{shell}: {p}: No such file or directory"), 127),
        },
        _ => {
            return die(
                format!(
                    "sim: {shell} {} not simulated on the host (only -s with a script on stdin, or a script file)",
                    args.join(" ")
                ),
                127,
            )
        }
    };
    st.script_runs.push(ScriptRun { path, sha256: sha256_hex(&content), args: rest.to_vec() });
    ok("")
}

#[cfg(test)]
mod tests {
    use crate::host::SimHost;
    use crate::state::{text_file, SimState};

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn host_scripts_on_stdin_run_and_are_recorded() {
        let h = SimHost::new(SimState::default());
        let o = h.exec(&argv("bash -s -- 10.0.0.5 443"), Some(b"#!/bin/bash\nexit 0\n"));
        assert_eq!(o.code, 0, "{}", o.stderr_str());
        h.exec(&argv("bash -s"), Some(b"true\n"));
        let runs = h.with_state(|s| s.script_runs.clone());
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].path, "-");
        assert_eq!(runs[0].args, vec!["10.0.0.5", "443"]);
        assert_eq!(runs[0].sha256, super::sha256_hex(b"#!/bin/bash\nexit 0\n"));
        assert!(runs[1].args.is_empty());
        let missing = h.exec(&argv("bash /root/check.sh"), None);
        assert_eq!(
            (missing.code, missing.stderr_str().as_str()),
            (127, "bash: /root/check.sh: No such file or directory\n")
        );
        h.with_state(|s| s.files.insert("/root/check.sh".into(), text_file("exit 0\n")));
        assert_eq!(h.exec(&argv("bash /root/check.sh x"), None).code, 0);
        assert_eq!(h.with_state(|s| s.script_runs.len()), 3);
        assert_eq!(h.exec(&argv("bash -c true"), None).code, 127);
    }

    #[test]
    fn guest_scripts_run_uninterpreted_and_are_counted() {
        let h = SimHost::new(SimState::default());
        for c in [
            "pct create 160 local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst --rootfs local-zfs:4",
            "pct start 160",
            "pct exec 160 -- mkdir -p /usr/local/lib/phoenix",
        ] {
            assert_eq!(h.exec(&argv(c), None).code, 0, "{c}");
        }
        let app = "/usr/local/lib/phoenix/application.sh";
        let body = b"#!/bin/sh\nset -e\ndocker compose up -d\n";
        assert_eq!(h.exec(&argv(&format!("pct exec 160 -- tee {app}")), Some(body)).code, 0);
        // Written 0644 by tee: not executable yet.
        assert_eq!(h.exec(&argv(&format!("pct exec 160 -- {app}")), None).code, 126);
        assert_eq!(h.exec(&argv(&format!("pct exec 160 -- chmod 0755 {app}")), None).code, 0);
        for _ in 0..2 {
            let o = h.exec(&argv(&format!("pct exec 160 -- {app}")), None);
            assert_eq!((o.code, o.stdout.len()), (0, 0), "{}", o.stderr_str());
        }
        assert_eq!(h.exec(&argv(&format!("pct exec 160 -- bash {app} --flag")), None).code, 0);
        let runs = h.with_state(|s| s.guests[&160].os.script_runs.clone());
        assert_eq!(runs.len(), 3);
        assert!(runs.iter().all(|r| r.path == app && r.sha256 == super::sha256_hex(body)));
        assert_eq!(runs[2].args, vec!["--flag"]);
        // Catalogue programs are still not scripts.
        assert_eq!(h.exec(&argv("pct exec 160 -- /usr/bin/python3 x.py"), None).code, 127);
        assert_eq!(h.exec(&argv("pct exec 160 -- sh /nope.sh"), None).code, 127);
        assert_eq!(h.with_state(|s| s.guests[&160].os.script_runs.len()), 3);
    }
}
