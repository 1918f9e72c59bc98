//! Smallstep inside a guest.
//!
//! `step ca init`, with the flags the step_ca feature passes: it writes the CA's configuration,
//! certificates and (0600) keys under STEPPATH, as the user it runs as, and refuses to
//! initialise over an existing `config/ca.json`.
//!
//! `step ca certificate <subject> <crt> <key> [--san x]… --provisioner p
//! --provisioner-password-file f [--not-after d] [--ca-url u] [--root r] [--force]`: the CA in
//! this guest (step-ca must be running) signs a leaf with its intermediate, valid from the
//! simulated clock (backdated one minute, as step-ca does) for `--not-after`; the certificate
//! file holds the leaf then the intermediate, and both files are written 0600 by the user step
//! runs as, as step-cli writes them.

use super::inside::{done, file, is_dir, may_read, may_write, out, Proc};
use super::scripts::sha256_hex;
use super::state::{DirMeta, Guest};
use super::x509::{self, Cert};
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

/// Ten years: how long `step ca init`'s root and intermediate certificates last.
const CA_LIFETIME: u64 = 10 * 365 * 86_400;

/// The root and intermediate certificates of a new CA. They depend on how many times this
/// guest initialised a CA (`serial`), so a CA initialised again is another CA (what "issued by
/// another root" means for the certificates it issued before), and on the day of `now` only:
/// the clock also counts snapshots, and a CA must come out the same whatever order parallel
/// guests were created in.
fn ca_certificates(name: &str, steppath: &str, now: u64, serial: u64) -> (Cert, Cert) {
    let day = now - now % 86_400;
    let root_subject = format!("O = {name}, CN = {name} Root CA");
    let root_ski = x509::key_id(&format!("{steppath}/{name}/{serial}/root"));
    let root = Cert {
        subject: root_subject.clone(),
        issuer: root_subject.clone(),
        sans: Vec::new(),
        not_before: day,
        not_after: day + CA_LIFETIME,
        ski: root_ski.clone(),
        aki: root_ski.clone(),
    };
    let intermediate = Cert {
        subject: format!("O = {name}, CN = {name} Intermediate CA"),
        issuer: root_subject,
        sans: Vec::new(),
        not_before: day,
        not_after: day + CA_LIFETIME,
        ski: x509::key_id(&format!("{steppath}/{name}/{serial}/intermediate")),
        aki: root_ski,
    };
    (root, intermediate)
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
    g.os.certificate_serial += 1;
    let (root_cert, inter_cert) = ca_certificates(name, &steppath, p.now(), g.os.certificate_serial);
    let now = p.now();
    let (root_crt, inter_crt) = match (x509::encode(&root_cert, now), x509::encode(&inter_cert, now)) {
        (Ok(r), Ok(i)) => (r, i),
        (Err(e), _) | (_, Err(e)) => return fail(format!("error generating the CA certificates: {e}")),
    };
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

/// Flags of `step ca certificate` that take a value.
const CERT_VALUED: &[&str] = &[
    "--san",
    "--provisioner",
    "--provisioner-password-file",
    "--not-after",
    "--not-before",
    "--ca-url",
    "--root",
    "--kty",
    "--curve",
];

/// step-ca's default for `--not-after` when none is given (the provisioner's default duration).
const DEFAULT_TLS_DURATION: u64 = 24 * 3600;

/// A duration as Go prints it (`2160h0m0s`).
fn go_print(secs: u64) -> String {
    format!("{}h{}m{}s", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// `step ca provisioner update <name> [--x509-max-dur d] [--x509-default-dur d] --ca-config f`
/// with remote management off: step edits ca.json itself (step-ca reads it when it starts).
pub(crate) fn provisioner_update(g: &mut Guest, args: &[&str], p: &Proc) -> Output {
    let mut name = None;
    let mut sets: Vec<(&str, String)> = Vec::new();
    let mut config = p.var("STEPPATH").map(|s| format!("{}/config/ca.json", s.trim_end_matches('/')));
    let mut i = 0;
    while i < args.len() {
        let x = args[i];
        let (k, inline) = match x.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (x, None),
        };
        let mut value = || {
            inline.map(str::to_string).or_else(|| {
                i += 1;
                args.get(i).map(|s| s.to_string())
            })
        };
        match k {
            "--x509-max-dur" | "--x509-default-dur" | "--x509-min-dur" => {
                let Some(v) = value() else { return fail(format!("flag needs an argument: {k}")) };
                if x509::go_duration(&v).is_none() {
                    return fail(format!("error parsing flag '{k}': invalid duration \"{v}\""));
                }
                let claim = match k {
                    "--x509-max-dur" => "maxTLSCertDuration",
                    "--x509-default-dur" => "defaultTLSCertDuration",
                    _ => "minTLSCertDuration",
                };
                sets.push((claim, v));
            }
            "--ca-config" => config = value(),
            _ if k.starts_with('-') => return fail(format!("flag provided but not defined: {k}")),
            _ => name = Some(x),
        }
        i += 1;
    }
    let Some(name) = name else {
        return fail("not enough positional arguments were provided in 'step ca provisioner update <name>'");
    };
    let Some(config) = config else {
        return fail("error: remote provisioner management needs an admin: pass --ca-config to edit ca.json");
    };
    let Some(f) = g.files.get(&config) else {
        return fail(format!("open {config}: no such file or directory"));
    };
    if !may_read(g, &config, p.user()) || !may_write(g, &config, p.user()) {
        return fail(format!("open {config}: permission denied"));
    }
    let Ok(mut ca) = serde_json::from_slice::<serde_json::Value>(&f.content) else {
        return fail(format!("error parsing {config}"));
    };
    let Some(prov) =
        ca["authority"]["provisioners"].as_array_mut().and_then(|ps| ps.iter_mut().find(|x| x["name"] == name))
    else {
        return fail(format!("provisioner with name {name} not found"));
    };
    for (claim, v) in sets {
        prov["claims"][claim] = serde_json::Value::String(v);
    }
    let mut text = serde_json::to_string_pretty(&ca).unwrap_or_default();
    text.push('\n');
    if let Some(f) = g.files.get_mut(&config) {
        f.content = text.into_bytes();
    }
    done("")
}

/// `step ca certificate <flags>` (args after `certificate`).
pub(crate) fn certificate(g: &mut Guest, args: &[&str], p: &Proc) -> Output {
    let mut opts: Vec<(&str, &str)> = Vec::new();
    let mut positional: Vec<&str> = Vec::new();
    let mut force = false;
    let mut i = 0;
    while i < args.len() {
        let x = args[i];
        if let Some((k, v)) = x.split_once('=').filter(|(k, _)| CERT_VALUED.contains(k)) {
            opts.push((k, v));
        } else if CERT_VALUED.contains(&x) {
            i += 1;
            let Some(v) = args.get(i) else {
                return fail(format!("flag needs an argument: {x}"));
            };
            opts.push((x, v));
        } else if x == "--force" || x == "-f" {
            force = true;
        } else if x.starts_with('-') {
            return fail(format!("flag provided but not defined: {x}"));
        } else {
            positional.push(x);
        }
        i += 1;
    }
    let [subject, crt, key] = positional.as_slice() else {
        return fail(format!(
            "not enough positional arguments were provided in 'step ca certificate <subject> <crt-file> <key-file>'\n(got {})",
            positional.len()
        ));
    };
    let get = |k: &str| opts.iter().find(|(o, _)| *o == k).map(|(_, v)| *v);
    let user = p.user();
    // Which CA answers: the one configured in this guest (the only one the simulator serves).
    let Some((ca_path, ca)) =
        g.files.iter().filter(|(path, _)| path.ends_with("/config/ca.json")).find_map(|(path, f)| {
            serde_json::from_slice::<serde_json::Value>(&f.content).ok().map(|v| (path.clone(), v))
        })
    else {
        return fail(
            "client POST https://localhost:9000/1.0/sign failed: dial tcp 127.0.0.1:9000: connect: connection refused",
        );
    };
    if !g.os.units.get("step-ca.service").is_some_and(|u| u.active) {
        return fail(
            "client POST https://localhost:9000/1.0/sign failed: dial tcp 127.0.0.1:9000: connect: connection refused",
        );
    }
    let Some(root_file) = get("--root") else {
        return fail("error: flag '--root' is required when STEPPATH has no defaults.json");
    };
    if !g.files.contains_key(root_file) {
        return fail(format!("open {root_file}: no such file or directory"));
    }
    let provisioner = get("--provisioner").unwrap_or_default();
    let known = ca["authority"]["provisioners"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|x| x["type"] == "JWK" && x["name"] == provisioner));
    if !known {
        return fail(format!("error: provisioner '{provisioner}' not found"));
    }
    let Some(pw) = get("--provisioner-password-file") else {
        return fail(
            "error: flag '--provisioner-password-file' is required when 'step ca certificate' runs without a terminal",
        );
    };
    match g.files.get(pw) {
        None => return fail(format!("open {pw}: no such file or directory")),
        Some(_) if !may_read(g, pw, user) => return fail(format!("open {pw}: permission denied")),
        Some(f) if f.content.iter().all(u8::is_ascii_whitespace) => {
            return fail(format!("error reading {pw}: the password file is empty"))
        }
        Some(_) => {}
    }
    let duration = match get("--not-after") {
        None => DEFAULT_TLS_DURATION,
        Some(d) => match x509::go_duration(d) {
            Some(s) if s > 0 => s,
            _ => return fail(format!("error parsing flag '--not-after': invalid duration \"{d}\"")),
        },
    };
    let max = ca["authority"]["provisioners"]
        .as_array()
        .and_then(|ps| ps.iter().find(|x| x["name"] == provisioner))
        .and_then(|x| x["claims"]["maxTLSCertDuration"].as_str())
        .and_then(x509::go_duration)
        .unwrap_or(DEFAULT_TLS_DURATION);
    if duration > max {
        return fail(format!(
            "The request was forbidden by the certificate authority: requested duration of {} is more than the authorized maximum certificate duration of {}.",
            go_print(duration),
            go_print(max)
        ));
    }
    for f in [crt, key] {
        if g.files.contains_key(*f) && !force {
            return fail(format!("would overwrite {f}: use --force to overwrite it without a prompt"));
        }
        let dir = f.rsplit_once('/').map(|(d, _)| d).filter(|d| !d.is_empty()).unwrap_or("/");
        if !is_dir(g, dir) {
            return fail(format!("open {f}: no such file or directory"));
        }
        if !may_write(g, f, user) {
            return fail(format!("open {f}: permission denied"));
        }
    }
    let steppath = ca_path.trim_end_matches("/config/ca.json").to_string();
    let Some(intermediate) =
        g.files.get(&format!("{steppath}/certs/intermediate_ca.crt")).and_then(|f| x509::decode(&f.content))
    else {
        return fail("error: the CA has no intermediate certificate");
    };
    let mut sans: Vec<String> = opts
        .iter()
        .filter(|(o, _)| *o == "--san")
        .map(
            |(_, v)| if v.parse::<std::net::IpAddr>().is_ok() { format!("IP Address:{v}") } else { format!("DNS:{v}") },
        )
        .collect();
    if sans.is_empty() {
        sans.push(format!("DNS:{subject}"));
    }
    let now = p.now();
    g.os.certificate_serial += 1;
    let serial = g.os.certificate_serial;
    let leaf = Cert {
        subject: format!("CN = {subject}"),
        issuer: intermediate.subject.clone(),
        sans,
        not_before: now.saturating_sub(60),
        not_after: now + duration,
        ski: x509::key_id(&format!("{subject}/{crt}/{now}/{serial}")),
        aki: intermediate.ski.clone(),
    };
    let (leaf_pem, chain_pem) = match (x509::encode(&leaf, now), x509::encode(&intermediate, now)) {
        (Ok(l), Ok(i)) => (l, i),
        (Err(e), _) | (_, Err(e)) => return fail(format!("error signing the certificate: {e}")),
    };
    let mut crt_file = file(format!("{leaf_pem}{chain_pem}"), 0o600);
    crt_file.owner = user.into();
    crt_file.group = user.into();
    // The certificate's own private key (x509: derived from its key identifier).
    let mut key_file = file(x509::key_pem(&leaf.ski), 0o600);
    key_file.owner = user.into();
    key_file.group = user.into();
    g.files.insert(crt.to_string(), crt_file);
    g.files.insert(key.to_string(), key_file);
    out(0, "", format!("✔ CA: https://localhost:9000\n✔ Certificate: {crt}\n✔ Private Key: {key}\n"))
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
        issue_and_inspect(&h);
    }

    /// `step ca certificate` against the CA initialised above, read back by `openssl x509` in
    /// OpenSSL 3.0's format (compared with a real certificate's output), on the simulated clock.
    fn issue_and_inspect(h: &SimHost) {
        let issue: &[&str] = &[
            "step",
            "ca",
            "certificate",
            "gw.lab",
            "/root/c/gw.crt",
            "/root/c/gw.key",
            "--san",
            "gw.lab",
            "--san",
            "a.lab",
            "--san",
            "10.0.0.1",
            "--provisioner",
            "admin",
            "--provisioner-password-file",
            "/etc/step-ca/provisioner-password.txt",
            "--not-after",
            "2160h",
            "--ca-url",
            "https://localhost:9000",
            "--root",
            "/etc/step-ca/certs/root_ca.crt",
            "--force",
        ];
        // step-ca is not serving yet.
        assert!(run(h, issue).stderr_str().contains("connection refused"));
        h.with_state(|s| {
            s.guests
                .get_mut(&150)
                .unwrap()
                .os
                .units
                .insert("step-ca.service".into(), crate::state::Unit { enabled: true, active: true });
        });
        let mut bad = issue.to_vec();
        bad[13] = "nobody";
        assert_eq!(run(h, &bad).stderr_str(), "error: provisioner 'nobody' not found\n");
        // step-ca's default provisioner allows 24 h certificates; the claim is raised in ca.json.
        assert!(run(h, issue).stderr_str().contains(
            "requested duration of 2160h0m0s is more than the authorized maximum certificate duration of 24h0m0s"
        ));
        let update: &[&str] = &[
            "runuser",
            "-u",
            "step",
            "--",
            "step",
            "ca",
            "provisioner",
            "update",
            "admin",
            "--x509-max-dur",
            "2160h",
            "--ca-config",
            "/etc/step-ca/config/ca.json",
        ];
        ok(h, update);
        let ca: serde_json::Value =
            serde_json::from_slice(&ok(h, &["cat", "/etc/step-ca/config/ca.json"]).stdout).unwrap();
        assert_eq!(ca["authority"]["provisioners"][0]["claims"]["maxTLSCertDuration"], "2160h");
        assert_eq!(ok(h, &["stat", "-c", "%a %U", "/etc/step-ca/config/ca.json"]).stdout_str(), "600 step\n");
        assert_eq!(run(h, issue).stderr_str(), "open /root/c/gw.crt: no such file or directory\n");
        ok(h, &["install", "-d", "-m", "0700", "/root/c"]);
        ok(h, issue);
        assert_eq!(ok(h, &["stat", "-c", "%a %U", "/root/c/gw.key"]).stdout_str(), "600 root\n");
        let now = h.with_state(|s| s.clock);
        let read = |extra: &str| {
            let mut argv = vec![
                "openssl",
                "x509",
                "-in",
                "/root/c/gw.crt",
                "-noout",
                "-enddate",
                "-ext",
                "subjectAltName,authorityKeyIdentifier",
                "-issuer",
                "-checkend",
            ];
            argv.push(extra);
            run(h, &argv)
        };
        let fresh = read("100");
        assert_eq!(fresh.code, 0);
        let text = fresh.stdout_str();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("notAfter={}", crate::x509::openssl_time(now + 2160 * 3600)));
        assert_eq!(lines[1], "X509v3 Authority Key Identifier: ");
        assert_eq!(lines[3], "X509v3 Subject Alternative Name: ");
        assert_eq!(lines[4], "    DNS:gw.lab, DNS:a.lab, IP Address:10.0.0.1");
        assert_eq!(lines[5], "issuer=O = lab CA, CN = lab CA Intermediate CA");
        assert_eq!(lines[6], "Certificate will not expire");
        let ski = ok(
            h,
            &[
                "openssl",
                "x509",
                "-in",
                "/etc/step-ca/certs/intermediate_ca.crt",
                "-noout",
                "-ext",
                "subjectKeyIdentifier",
            ],
        );
        assert_eq!(ski.stdout_str().lines().nth(1).map(str::trim), lines.get(2).map(|l| l.trim()));
        // Within 2160h of the end: it will expire.
        let late = read(&(2160 * 3600 + 1).to_string());
        assert_eq!((late.code, late.stdout_str().lines().last()), (1, Some("Certificate will expire")));
        let missing = run(h, &["openssl", "x509", "-in", "/root/none.crt", "-noout", "-enddate"]);
        assert_eq!(missing.code, 1);
        assert!(missing
            .stderr_str()
            .starts_with("Could not open file or uri for loading certificate from /root/none.crt\n"));
        // No overwrite without --force.
        let again = run(h, &issue[..issue.len() - 1]);
        assert_eq!(
            again.stderr_str(),
            "would overwrite /root/c/gw.crt: use --force to overwrite it without a prompt\n"
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
