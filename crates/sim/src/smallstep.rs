//! Smallstep's `step ca init` inside a guest, with the flags the step_ca feature passes: it
//! writes the CA's configuration, certificates and (0600) keys under STEPPATH, as the user it
//! runs as, and refuses to initialise over an existing `config/ca.json`.

use super::inside::{done, file, is_dir, may_read, may_write, out, Proc};
use super::scripts::sha256_hex;
use super::state::{DirMeta, Guest};
use crate::output::Output;

/// Flags that take a value; `--acme` and the other booleans take none.
const VALUED: &[&str] = &[
    "--name",
    "--deployment-type",
    "--address",
    "--provisioner",
    "--password-file",
    "--provisioner-password-file",
    "--dns",
    "--context",
    "--profile",
    "--key-password-file",
];
const BOOLEAN: &[&str] = &["--acme", "--ssh", "--remote-management", "--no-db", "--helm"];

fn fail(msg: impl AsRef<str>) -> Output {
    out(1, "", msg.as_ref())
}

/// A PEM certificate whose body is derived from what it certifies (stable between runs).
fn pem(subject: &str) -> String {
    let body = sha256_hex(subject.as_bytes());
    format!("-----BEGIN CERTIFICATE-----\nMIIB{body}\n-----END CERTIFICATE-----\n")
}

/// `step ca init <flags>` (args after `init`).
pub(crate) fn init(g: &mut Guest, args: &[&str], p: &Proc) -> Output {
    let mut opts: Vec<(&str, &str)> = Vec::new();
    let mut flags: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let x = args[i];
        if let Some((k, v)) = x.split_once('=').filter(|(k, _)| VALUED.contains(k)) {
            opts.push((k, v));
        } else if VALUED.contains(&x) {
            i += 1;
            let Some(v) = args.get(i) else {
                return fail(format!("flag needs an argument: {x}"));
            };
            opts.push((x, v));
        } else if BOOLEAN.contains(&x) {
            flags.push(x);
        } else {
            return fail(format!("flag provided but not defined: {x}"));
        }
        i += 1;
    }
    let get = |k: &str| opts.iter().find(|(o, _)| *o == k).map(|(_, v)| *v);
    let dns: Vec<&str> = opts.iter().filter(|(o, _)| *o == "--dns").map(|(_, v)| *v).collect();
    // Without a terminal step cannot prompt: everything it would ask must be a flag.
    for required in ["--name", "--address", "--provisioner", "--dns", "--password-file"] {
        if get(required).is_none() {
            return fail(format!("error: flag '{required}' is required when 'step ca init' runs without a terminal"));
        }
    }
    let user = p.user();
    let password_files: Vec<&str> =
        ["--password-file", "--provisioner-password-file"].iter().filter_map(|k| get(k)).collect();
    for pf in password_files {
        match g.files.get(pf) {
            None => return fail(format!("open {pf}: no such file or directory")),
            Some(_) if !may_read(g, pf, user) => return fail(format!("open {pf}: permission denied")),
            Some(f) if f.content.iter().all(u8::is_ascii_whitespace) => {
                return fail(format!("error reading {pf}: the password file is empty"))
            }
            Some(_) => {}
        }
    }
    let home = g.os.accounts.get(user).map(|a| a.home.clone()).unwrap_or_else(|| {
        if user == "root" {
            "/root".into()
        } else {
            format!("/home/{user}")
        }
    });
    let steppath =
        p.var("STEPPATH").map(|s| s.trim_end_matches('/').to_string()).unwrap_or_else(|| format!("{home}/.step"));
    let ca_json = format!("{steppath}/config/ca.json");
    if g.files.contains_key(&ca_json) {
        return fail(format!("open {ca_json}: file already exists"));
    }
    let parent = steppath.rsplit_once('/').map(|(d, _)| d).filter(|d| !d.is_empty()).unwrap_or("/");
    let writable = if is_dir(g, &steppath) { may_write(g, &steppath, user) } else { may_write(g, parent, user) };
    if !writable {
        return fail(format!("mkdir {steppath}/config: permission denied"));
    }
    let name = get("--name").unwrap_or_default();
    let address = get("--address").unwrap_or_default();
    let provisioner = get("--provisioner").unwrap_or_default();
    let root_crt = pem(&format!("{name} Root CA"));
    let inter_crt = pem(&format!("{name} Intermediate CA"));
    let fingerprint = sha256_hex(root_crt.as_bytes());
    let mut provisioners = vec![serde_json::json!({
        "type": "JWK",
        "name": provisioner,
        "encryptedKey": sha256_hex(format!("{name}/{provisioner}").as_bytes()),
    })];
    if flags.contains(&"--acme") {
        provisioners.push(serde_json::json!({ "type": "ACME", "name": "acme" }));
    }
    let config = serde_json::json!({
        "root": format!("{steppath}/certs/root_ca.crt"),
        "federatedRoots": null,
        "crt": format!("{steppath}/certs/intermediate_ca.crt"),
        "key": format!("{steppath}/secrets/intermediate_ca_key"),
        "address": address,
        "insecureAddress": "",
        "dnsNames": dns,
        "logger": { "format": "text" },
        "db": { "type": "badgerv2", "dataSource": format!("{steppath}/db") },
        "authority": { "provisioners": provisioners },
        "tls": { "minVersion": 1.2, "maxVersion": 1.3, "renegotiation": false },
    });
    let defaults = serde_json::json!({
        "ca-url": format!("https://{}{address}", dns.first().copied().unwrap_or("localhost")),
        "ca-config": ca_json,
        "fingerprint": fingerprint,
        "root": format!("{steppath}/certs/root_ca.crt"),
    });
    let pretty = |v: &serde_json::Value| {
        let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
        s.push('\n');
        s
    };
    for d in ["", "/config", "/certs", "/secrets", "/db", "/templates"] {
        let dir = format!("{steppath}{d}");
        g.os.dirs.insert(dir.clone());
        if d.is_empty() && g.os.dir_meta.contains_key(&dir) {
            continue;
        }
        g.os.dir_meta.insert(dir, DirMeta { owner: user.into(), group: user.into(), mode: 0o700 });
    }
    let files = [
        ("config/ca.json", pretty(&config)),
        ("config/defaults.json", pretty(&defaults)),
        ("certs/root_ca.crt", root_crt),
        ("certs/intermediate_ca.crt", inter_crt),
        (
            "secrets/root_ca_key",
            format!(
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n{}\n-----END EC PRIVATE KEY-----\n",
                sha256_hex(format!("{name} root key").as_bytes())
            ),
        ),
        (
            "secrets/intermediate_ca_key",
            format!(
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n{}\n-----END EC PRIVATE KEY-----\n",
                sha256_hex(format!("{name} intermediate key").as_bytes())
            ),
        ),
    ];
    for (rel, content) in files {
        let mut f = file(content, 0o600);
        f.owner = user.into();
        f.group = user.into();
        g.files.insert(format!("{steppath}/{rel}"), f);
    }
    done(format!(
        "Generating root certificate... done!\nGenerating intermediate certificate... done!\n\n\
✔ Root certificate: {s}/certs/root_ca.crt\n✔ Root private key: {s}/secrets/root_ca_key\n✔ Root fingerprint: {fingerprint}\n\
✔ Intermediate certificate: {s}/certs/intermediate_ca.crt\n✔ Intermediate private key: {s}/secrets/intermediate_ca_key\n\
✔ Database folder: {s}/db\n✔ Default configuration: {s}/config/defaults.json\n✔ Certificate Authority configuration: {s}/config/ca.json\n\n\
Your PKI is ready to go. To generate certificates for individual services see 'step help ca'.\n",
        s = steppath
    ))
}

#[cfg(test)]
mod tests {
    use crate::host::SimHost;
    use crate::output::Output;
    use crate::state::SimState;

    fn run(h: &SimHost, argv: &[&str]) -> Output {
        let mut full = vec!["pct", "exec", "150", "--"];
        full.extend_from_slice(argv);
        h.exec(&full.iter().map(|s| s.to_string()).collect::<Vec<_>>(), None)
    }
    fn ok(h: &SimHost, argv: &[&str]) -> Output {
        let o = run(h, argv);
        assert_eq!(o.code, 0, "{argv:?}: {}", o.stderr_str());
        o
    }

    const INIT: &[&str] = &[
        "runuser",
        "-u",
        "step",
        "--",
        "env",
        "STEPPATH=/etc/step-ca",
        "step",
        "ca",
        "init",
        "--name",
        "lab CA",
        "--deployment-type",
        "standalone",
        "--address",
        ":9000",
        "--provisioner",
        "admin",
        "--acme",
        "--password-file",
        "/etc/step-ca/password.txt",
        "--provisioner-password-file",
        "/etc/step-ca/provisioner-password.txt",
        "--dns",
        "ca.lab",
        "--dns",
        "localhost",
    ];

    /// The step_ca feature's commands, in its order, on a fresh container.
    #[test]
    fn step_ca_feature_sequence() {
        let h = SimHost::new(SimState::default());
        for c in [
            "pct create 150 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --rootfs local-zfs:4",
            "pct start 150",
        ] {
            assert_eq!(h.exec(&c.split(' ').map(String::from).collect::<Vec<_>>(), None).code, 0);
        }
        assert_eq!(run(&h, &["test", "-x", "/usr/bin/openssl"]).code, 0);
        assert_eq!(run(&h, &["apt-get", "install", "-y", "step-ca"]).code, 100);
        let src =
            b"deb [signed-by=/etc/apt/keyrings/smallstep.asc] https://packages.smallstep.com/stable/debian debs main\n";
        let t = h.exec(
            &["pct", "exec", "150", "--", "tee", "/etc/apt/sources.list.d/smallstep.list"].map(String::from),
            Some(src),
        );
        assert_eq!(t.code, 0);
        ok(&h, &["apt-get", "install", "-y", "step-cli", "step-ca"]);
        ok(&h, &["test", "-x", "/usr/bin/step-ca"]);
        assert_eq!(run(&h, &["getent", "passwd", "step"]).code, 2);
        assert_eq!(run(&h, &["runuser", "-u", "step", "--", "true"]).code, 1);
        ok(
            &h,
            &[
                "useradd",
                "--system",
                "--user-group",
                "--home-dir",
                "/etc/step-ca",
                "--shell",
                "/usr/sbin/nologin",
                "step",
            ],
        );
        assert_eq!(
            ok(&h, &["getent", "passwd", "step"]).stdout_str(),
            "step:x:999:999:step:/etc/step-ca:/usr/sbin/nologin\n"
        );
        assert_eq!(run(&h, &["useradd", "--system", "step"]).code, 9);
        // Not yet writable by step: the directory does not exist.
        assert_eq!(run(&h, &["runuser", "-u", "step", "--", "test", "-w", "/etc/step-ca"]).code, 1);
        ok(&h, &["install", "-d", "-m", "0700", "-o", "step", "-g", "step", "/etc/step-ca"]);
        ok(&h, &["runuser", "-u", "step", "--", "test", "-w", "/etc/step-ca"]);
        assert_eq!(run(&h, &["runuser", "-u", "step", "--", "test", "-w", "/etc"]).code, 1);
        assert_eq!(
            run(&h, &["install", "-o", "nobody2", "/dev/null", "/etc/x"]).stderr_str(),
            "install: invalid user 'nobody2'\n"
        );
        for pf in ["/etc/step-ca/password.txt", "/etc/step-ca/provisioner-password.txt"] {
            ok(&h, &["install", "-m", "0600", "-o", "step", "-g", "step", "/dev/null", pf]);
            assert_eq!(run(&h, &["test", "-s", pf]).code, 1);
            // An empty password file is refused.
            if pf.ends_with("/password.txt") {
                let early = run(&h, INIT);
                assert_eq!(early.code, 1);
                assert!(early.stderr_str().contains("empty"), "{}", early.stderr_str());
            }
            ok(&h, &["openssl", "rand", "-base64", "-out", pf, "32"]);
            assert_eq!(ok(&h, &["stat", "-c", "%a %U %G %s", pf]).stdout_str(), "600 step step 45\n");
        }
        let init = ok(&h, INIT);
        assert!(init.stdout_str().contains("Your PKI is ready to go."));
        for (f, owner) in [
            ("/etc/step-ca/config/ca.json", "600 step"),
            ("/etc/step-ca/certs/root_ca.crt", "600 step"),
            ("/etc/step-ca/certs/intermediate_ca.crt", "600 step"),
            ("/etc/step-ca/secrets/root_ca_key", "600 step"),
            ("/etc/step-ca/secrets/intermediate_ca_key", "600 step"),
        ] {
            assert_eq!(ok(&h, &["stat", "-c", "%a %U", f]).stdout_str(), format!("{owner}\n"), "{f}");
        }
        let ca: serde_json::Value =
            serde_json::from_slice(&ok(&h, &["cat", "/etc/step-ca/config/ca.json"]).stdout).unwrap();
        assert_eq!(ca["dnsNames"], serde_json::json!(["ca.lab", "localhost"]));
        assert_eq!(ca["address"], ":9000");
        assert_eq!(ca["authority"]["provisioners"][1]["type"], "ACME");
        assert!(ok(&h, &["cat", "/etc/step-ca/certs/root_ca.crt"])
            .stdout_str()
            .starts_with("-----BEGIN CERTIFICATE-----\n"));
        let again = run(&h, INIT);
        assert_eq!(
            (again.code, again.stderr_str().as_str()),
            (1, "open /etc/step-ca/config/ca.json: file already exists\n")
        );
    }

    #[test]
    fn init_needs_its_flags_and_a_writable_steppath() {
        let h = SimHost::new(SimState::default());
        for c in [
            "pct create 150 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --rootfs local-zfs:4",
            "pct start 150",
        ] {
            assert_eq!(h.exec(&c.split(' ').map(String::from).collect::<Vec<_>>(), None).code, 0);
        }
        h.with_state(|s| {
            let g = s.guests.get_mut(&150).unwrap();
            g.files.insert("/usr/bin/step".into(), crate::inside::file("#!sim step-cli\n", 0o755));
        });
        ok(&h, &["useradd", "--system", "step"]);
        let missing = run(&h, &["step", "ca", "init", "--name", "x"]);
        assert_eq!(missing.code, 1);
        assert!(missing.stderr_str().contains("'--address'"));
        assert_eq!(
            run(&h, &["step", "ca", "init", "--bogus"]).stderr_str(),
            "flag provided but not defined: --bogus\n"
        );
        let args =
            ["--name", "x", "--address", ":9000", "--provisioner", "a", "--dns", "x", "--password-file", "/root/pw"];
        let mut no_pw = vec!["step", "ca", "init"];
        no_pw.extend_from_slice(&args);
        assert_eq!(run(&h, &no_pw).stderr_str(), "open /root/pw: no such file or directory\n");
        ok(&h, &["openssl", "rand", "-hex", "-out", "/root/pw", "16"]);
        assert_eq!(ok(&h, &["cat", "/root/pw"]).stdout.len(), 33);
        // As step, into a root-owned /etc: refused; root's default STEPPATH is ~/.step.
        let mut as_step = vec!["runuser", "-u", "step", "--", "env", "STEPPATH=/etc/ca"];
        as_step.extend_from_slice(&no_pw);
        let denied = run(&h, &as_step);
        assert_eq!(denied.code, 1, "{}", denied.stderr_str());
        ok(&h, &no_pw);
        ok(&h, &["test", "-f", "/root/.step/config/ca.json"]);
    }
}
