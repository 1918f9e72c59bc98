//! Read vs mutating commands, for the "dry-run is pure" guarantee. Strict: anything not
//! listed as a read is mutating.

pub fn is_mutating(argv: &[String]) -> bool {
    let a = |i: usize| argv.get(i).map(String::as_str).unwrap_or("");
    let read = match (a(0), a(1)) {
        ("pct", "exec") => inner_command(&argv[2..]).is_some_and(guest_reads),
        ("pct", sub) => matches!(sub, "list" | "status" | "config" | "listsnapshot" | "pending"),
        ("qm", "guest") if a(2) == "exec" => inner_command(&argv[3..]).is_some_and(guest_reads),
        ("qm", "guest") => {
            // `qm guest cmd <id> <cmd>`: ping, info and get-* only read.
            a(2) == "cmd" && (matches!(a(4), "ping" | "info" | "network-get-interfaces") || a(4).starts_with("get-"))
        }
        ("qm", "agent") => matches!(a(3), "ping" | "info") || a(3).starts_with("get-"),
        ("qm", sub) => matches!(sub, "list" | "status" | "config" | "listsnapshot" | "pending"),
        ("zfs", sub) => matches!(sub, "list" | "get"),
        ("zpool", sub) => matches!(sub, "list" | "status" | "get"),
        ("pvesm", sub) => matches!(sub, "status" | "list"),
        ("pvesh", sub) => sub == "get",
        ("pve-firewall", sub) => sub == "status",
        ("exportfs", sub) => sub == "-v" || sub.is_empty(),
        // Listing a template or printing a member of it (the dry-run's base-image prediction).
        ("tar", _) => tar_reads(&argv[1..]),
        ("file.read", _) | ("stat", _) | ("dpkg-query", _) => true,
        ("sh" | "bash", _) if super::batch::is_batch(&argv[1..]) => super::batch::reads_only(argv, |c| !is_mutating(c)),
        ("systemctl", sub) => matches!(sub, "is-enabled" | "is-active" | "status" | "is-failed"),
        // `dnsmasq --test` parses a configuration and exits.
        ("dnsmasq", _) => argv.iter().any(|x| x == "--test"),
        _ => false,
    };
    !read
}

/// The argv after `--` (`pct exec <id> [opts] -- argv…`).
fn inner_command(rest: &[String]) -> Option<&[String]> {
    let i = rest.iter().position(|a| a == "--")?;
    Some(&rest[i + 1..])
}

/// `tar -t…` and `tar -xO…` only read; anything else extracts or creates.
fn tar_reads(args: &[String]) -> bool {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    super::archive::parse(&args).is_ok_and(|t| t.mode == 't' || (t.mode == 'x' && t.to_stdout))
}

/// In-guest commands that only look: the guards features use.
fn guest_reads(cmd: &[String]) -> bool {
    let a = |i: usize| cmd.get(i).map(String::as_str).unwrap_or("");
    // `env VAR=x cmd` reads iff cmd does.
    if a(0) == "env" {
        let rest: Vec<String> =
            cmd[1..].iter().skip_while(|x| x.contains('=') && !x.starts_with('-')).cloned().collect();
        return guest_reads(&rest);
    }
    let prog = a(0).rsplit('/').next().unwrap_or("");
    // `runuser -u <user> -- cmd` reads iff cmd does (the step_ca writability guard).
    if prog == "runuser" {
        return inner_command(cmd).is_some_and(guest_reads);
    }
    if matches!(prog, "sh" | "bash") && super::batch::is_batch(&cmd[1..]) {
        return super::batch::reads_only(cmd, guest_reads);
    }
    match prog {
        "true" | "false" | "test" | "[" | "cat" | "stat" | "sha256sum" | "dpkg-query" | "hostname" | "getent"
        | "nvidia-smi" | "mountpoint" => true,
        "tar" => tar_reads(&cmd[1..]),
        "dpkg" => matches!(a(1), "-s" | "--status" | "-l" | "--list"),
        "systemctl" => matches!(a(1), "is-enabled" | "is-active" | "status" | "is-failed"),
        "ip" => cmd.iter().any(|x| x == "show") && !cmd.iter().any(|x| x == "add" || x == "del"),
        "cloud-init" => a(1) == "status",
        // The configuration test and the version only look; a bare `nginx` starts the daemon.
        "nginx" => {
            cmd.iter().any(|x| matches!(x.as_str(), "-t" | "-T" | "-v" | "-V"))
                && cmd[1..].iter().all(|x| {
                    matches!(x.as_str(), "-t" | "-T" | "-q" | "-v" | "-V" | "-c" | "-p") || !x.starts_with('-')
                })
        }
        // `openssl x509 -noout …` prints facts about a certificate; with -out it would write.
        "openssl" => a(1) == "x509" && cmd.iter().any(|x| x == "-noout") && !cmd.iter().any(|x| x == "-out"),
        "pip" | "pip3" => matches!(a(1), "show" | "list"),
        // The Portainer stages' checks: a container's state or image, a volume's presence.
        "docker" if a(1) == "inspect" || (a(1) == "volume" && a(2) == "inspect") || a(1) == "ps" => true,
        // curl writing its body nowhere but stdout (the agent's /ping health check).
        "curl" => {
            !cmd.iter().any(|x| {
                matches!(x.as_str(), "-O" | "--remote-name")
                    || (x.starts_with('-') && !x.starts_with("--") && x.ends_with('o') && x != "-o")
            }) && cmd.windows(2).all(|w| w[0] != "-o" || w[1] == "/dev/null")
                && !cmd.iter().any(|x| matches!(x.as_str(), "-X" | "-d" | "--data" | "-T" | "--upload-file"))
        }
        "step" | "docker" | "ollama" | "vllm" | "python3" => {
            matches!(a(1), "version" | "--version" | "-v" | "-V")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> bool {
        is_mutating(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn classification() {
        assert!(!m("pct list"));
        assert!(!m("qm guest cmd 100 get-osinfo"));
        assert!(!m("qm guest exec 100 -- true"));
        assert!(!m("qm agent 100 ping"));
        assert!(m("qm agent 100 shutdown"));
        assert!(!m("zpool status rpool"));
        assert!(m("zfs set a=b rpool"));
        assert!(!m("pct exec 100 -- true"));
        assert!(!m("file.read /etc/hostname"));
        assert!(m("file.write /etc/hostname"));
        assert!(m("pve-firewall compile"));
        assert!(m("apt-get update"));
        assert!(!m("dnsmasq --test --conf-file=/dev/stdin"));
        assert!(m("dnsmasq --no-daemon"));
        assert!(!m("systemctl is-active dnsmasq"));
        assert!(m("systemctl restart dnsmasq"));
        assert!(!m("dpkg-query -W dnsmasq"));
        let t = "/var/lib/vz/template/cache/debian-12-standard_12.7-1_amd64.tar.zst";
        assert!(!m(&format!("tar -tf {t}")));
        assert!(!m(&format!("tar -xOf {t} ./var/lib/dpkg/status")));
        assert!(!m(&format!("tar --list --file={t}")));
        assert!(m(&format!("tar -xf {t} -C /tmp")));
        assert!(m("tar -czf /root/b.tgz /etc"));
        assert!(m("bash -s -- 10.0.0.1"));
    }

    #[test]
    fn in_guest_commands() {
        for read in [
            "pct exec 100 -- test -x /usr/bin/docker",
            "pct exec 100 -- systemctl is-enabled docker",
            "pct exec 100 -- systemctl is-active docker",
            "pct exec 100 -- dpkg-query -W -f=${Status} docker.io",
            "pct exec 100 -- cat /etc/os-release",
            "pct exec 100 -- openssl x509 -in /a.crt -noout -enddate -checkend 60",
            "pct exec 100 -- ip -4 -o addr show dev eth0",
            "pct exec 100 -- step version",
            "pct exec 100 -- env LC_ALL=C getent passwd root",
            "pct exec 100 -- mountpoint -q /mnt/media",
            "pct exec 100 -- runuser -u step -- test -w /etc/step-ca",
            "pct exec 100 -- tar -tzf /tmp/t.tar.gz",
            "pct exec 101 -- nginx -t -q -c /etc/nginx/.phoenix-candidate/nginx.conf",
            "qm guest exec 9000 --timeout 30 -- cloud-init status --wait",
            "qm guest exec 9000 -- nvidia-smi",
            "qm guest cmd 9000 network-get-interfaces",
            "qm agent 9000 ping",
        ] {
            assert!(!m(read), "{read}");
        }
        for write in [
            "pct exec 100 -- apt-get install -y docker.io",
            "pct exec 100 -- systemctl enable --now docker",
            "pct exec 100 -- tee /etc/x",
            "pct exec 100 -- sh /tmp/install.sh",
            "pct exec 100 test -f /x",
            "qm guest exec 9000 -- systemctl restart docker",
            "qm guest exec 9000 -- ip addr add 1.2.3.4/24 dev eth0",
            "pct push 100 /a /b",
            "pct exec 100 -- mount /mnt/media",
            "pct exec 100 -- tar -xzf /tmp/t.tar.gz -C /opt traefik",
            "pct exec 100 -- runuser -u step -- env STEPPATH=/etc/step-ca step ca init",
            "pct exec 100 -- openssl rand -base64 -out /etc/p 32",
            "pct exec 100 -- openssl x509 -in /a.crt -out /b.crt",
            "pct exec 100 -- step ca certificate a /a.crt /a.key --force",
            "pct exec 100 -- /usr/local/lib/phoenix/application.sh",
            "pct exec 101 -- nginx",
            "pct exec 101 -- nginx -s reload",
            "pct exec 101 -- mv -f /etc/nginx/.phoenix-candidate/nginx.conf /etc/nginx/nginx.conf",
        ] {
            assert!(m(write), "{write}");
        }
    }
}
