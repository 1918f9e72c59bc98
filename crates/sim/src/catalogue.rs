//! The software catalogue of the simulated guests: which Debian packages `apt-get` can find and
//! what installing one leaves behind, what the installer scripts of the features do, and what a
//! download from a known URL contains. Table-driven so adding a package is one line.

/// A package `apt-get install` can locate.
pub(crate) struct Package {
    pub name: &'static str,
    /// Files it installs (mode 0755 under `bin`/`sbin`/`libexec`, else 0644). Empty = `/usr/bin/<name>`.
    pub files: &'static [&'static str],
    /// systemd units it ships; Debian's postinst enables and starts them.
    pub units: &'static [&'static str],
    /// Packages pulled in with it.
    pub deps: &'static [&'static str],
    /// A word that must appear in a file under `/etc/apt/sources.list.d/` for apt to find the
    /// package (third-party repositories); `None` = the distribution's own archive.
    pub repo: Option<&'static str>,
}

const fn pkg(name: &'static str, files: &'static [&'static str]) -> Package {
    Package { name, files, units: &[], deps: &[], repo: None }
}

/// What every Debian/Ubuntu LXC template and cloud image starts with.
pub(crate) const BASE_PACKAGES: &[&str] = &[
    "base-files",
    "apt",
    "dpkg",
    "systemd",
    "bash",
    "coreutils",
    "iproute2",
    "passwd",
    "ca-certificates",
    "curl",
    "wget",
    "gnupg",
    "util-linux",
    "tar",
    "openssl",
];

pub(crate) static PACKAGES: &[Package] = &[
    pkg("base-files", &["/etc/os-release", "/etc/debian_version"]),
    pkg("apt", &["/usr/bin/apt-get", "/usr/bin/apt"]),
    pkg("dpkg", &["/usr/bin/dpkg", "/usr/bin/dpkg-query"]),
    pkg("systemd", &["/usr/bin/systemctl", "/usr/bin/hostname"]),
    pkg("bash", &["/bin/bash", "/bin/sh"]),
    pkg(
        "coreutils",
        &[
            "/usr/bin/test",
            "/usr/bin/cat",
            "/usr/bin/mkdir",
            "/usr/bin/chmod",
            "/usr/bin/chown",
            "/usr/bin/rm",
            "/usr/bin/ln",
            "/usr/bin/mv",
            "/usr/bin/install",
            "/usr/bin/tee",
            "/usr/bin/sha256sum",
            "/usr/bin/stat",
            "/usr/bin/true",
            "/usr/bin/false",
            "/usr/bin/env",
        ],
    ),
    pkg("iproute2", &["/usr/sbin/ip"]),
    pkg("passwd", &["/usr/sbin/useradd", "/usr/bin/getent"]),
    pkg("ca-certificates", &["/usr/sbin/update-ca-certificates"]),
    pkg("curl", &[]),
    pkg("wget", &[]),
    pkg("gnupg", &["/usr/bin/gpg"]),
    pkg("util-linux", &["/usr/bin/mount", "/usr/bin/mountpoint", "/usr/bin/umount", "/usr/sbin/runuser"]),
    pkg("tar", &[]),
    pkg("openssl", &[]),
    pkg("python3", &["/usr/bin/python3"]),
    Package { deps: &["python3"], ..pkg("python3-pip", &["/usr/bin/pip3", "/usr/bin/pip"]) },
    Package { deps: &["python3"], ..pkg("python3-venv", &["/usr/share/doc/python3-venv/copyright"]) },
    pkg("git", &[]),
    pkg("jq", &[]),
    pkg("unzip", &[]),
    pkg("sudo", &[]),
    pkg("lsb-release", &["/usr/bin/lsb_release"]),
    pkg("apt-transport-https", &["/usr/share/doc/apt-transport-https/copyright"]),
    pkg("software-properties-common", &["/usr/bin/add-apt-repository"]),
    pkg("build-essential", &["/usr/bin/gcc", "/usr/bin/make"]),
    pkg("pciutils", &["/usr/bin/lspci"]),
    pkg("nfs-common", &["/usr/sbin/mount.nfs"]),
    Package { units: &["ssh.service"], ..pkg("openssh-server", &["/usr/sbin/sshd"]) },
    Package {
        units: &["nginx.service"],
        ..pkg("nginx", &["/usr/sbin/nginx", "/etc/nginx/nginx.conf", "/etc/nginx/mime.types"])
    },
    Package { units: &["cloud-init.service"], ..pkg("cloud-init", &["/usr/bin/cloud-init"]) },
    Package { units: &["qemu-guest-agent.service"], ..pkg("qemu-guest-agent", &["/usr/sbin/qemu-ga"]) },
    Package { units: &["containerd.service"], ..pkg("containerd", &["/usr/bin/containerd"]) },
    Package {
        units: &["docker.service", "docker.socket"],
        deps: &["containerd"],
        ..pkg("docker.io", &["/usr/bin/docker", "/usr/bin/dockerd"])
    },
    Package { deps: &["docker.io"], ..pkg("docker-compose-v2", &["/usr/libexec/docker/cli-plugins/docker-compose"]) },
    Package {
        units: &["containerd.service"],
        repo: Some("download.docker.com"),
        ..pkg("containerd.io", &["/usr/bin/containerd"])
    },
    Package { repo: Some("download.docker.com"), ..pkg("docker-ce-cli", &["/usr/bin/docker"]) },
    Package {
        units: &["docker.service", "docker.socket"],
        deps: &["containerd.io", "docker-ce-cli"],
        repo: Some("download.docker.com"),
        ..pkg("docker-ce", &["/usr/bin/dockerd"])
    },
    Package {
        repo: Some("download.docker.com"),
        ..pkg("docker-compose-plugin", &["/usr/libexec/docker/cli-plugins/docker-compose"])
    },
    Package {
        repo: Some("nvidia.github.io/libnvidia-container"),
        deps: &["libnvidia-container-tools"],
        ..pkg("nvidia-container-toolkit", &["/usr/bin/nvidia-ctk", "/usr/bin/nvidia-container-runtime"])
    },
    Package {
        repo: Some("nvidia.github.io/libnvidia-container"),
        ..pkg("libnvidia-container-tools", &["/usr/bin/nvidia-container-cli"])
    },
    Package { repo: Some("smallstep"), ..pkg("step-cli", &["/usr/bin/step"]) },
    Package { repo: Some("smallstep"), ..pkg("step-ca", &["/usr/bin/step-ca"]) },
];

/// NVIDIA userspace packages are versioned (`nvidia-utils-550`, `nvidia-driver-550-server`):
/// matched by prefix, all of them provide `nvidia-smi`.
const NVIDIA_PREFIXES: &[&str] = &["nvidia-utils-", "nvidia-driver-", "nvidia-headless-"];
const NVIDIA_FILES: &[&str] = &["/usr/bin/nvidia-smi"];

/// A package apt could install: static entries and the versioned NVIDIA family.
pub(crate) struct Found {
    pub files: Vec<String>,
    pub units: &'static [&'static str],
    pub deps: &'static [&'static str],
    pub repo: Option<&'static str>,
}

pub(crate) fn package(name: &str) -> Option<Found> {
    if let Some(p) = PACKAGES.iter().find(|p| p.name == name) {
        let files = if p.files.is_empty() {
            vec![format!("/usr/bin/{name}")]
        } else {
            p.files.iter().map(|f| f.to_string()).collect()
        };
        return Some(Found { files, units: p.units, deps: p.deps, repo: p.repo });
    }
    NVIDIA_PREFIXES
        .iter()
        .any(|pre| name.strip_prefix(pre).is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())))
        .then(|| Found {
            files: NVIDIA_FILES.iter().map(|f| f.to_string()).collect(),
            units: &[],
            deps: &[],
            repo: None,
        })
}

/// Mode a catalogue file gets.
pub(crate) fn file_mode(path: &str) -> u32 {
    if path.contains("/bin/") || path.contains("/sbin/") || path.contains("/libexec/") {
        0o755
    } else {
        0o644
    }
}

/// Version strings `dpkg-query` and `--version` print.
pub(crate) fn version(name: &str) -> &'static str {
    match name {
        "docker.io" | "docker-ce" | "docker-ce-cli" => "27.5.1",
        "step-cli" => "0.28.2",
        "step-ca" => "0.28.1",
        "qemu-guest-agent" => "1:8.2.2+ds-0ubuntu1",
        _ => "1.0-sim",
    }
}

/// What an installer script does when run with `sh`/`bash`.
pub(crate) struct Installer {
    pub name: &'static str,
    /// Packages it installs through apt (no repository check: installers add their own).
    pub packages: &'static [&'static str],
    /// Extra files (binaries) it drops.
    pub files: &'static [&'static str],
    /// Units it writes, enables and starts.
    pub units: &'static [&'static str],
    /// A system user it creates.
    pub user: Option<&'static str>,
    pub stdout: &'static str,
}

pub(crate) static INSTALLERS: &[Installer] = &[
    Installer {
        name: "ollama",
        packages: &[],
        files: &["/usr/local/bin/ollama", "/etc/systemd/system/ollama.service"],
        units: &["ollama.service"],
        user: Some("ollama"),
        stdout: ">>> Installing ollama to /usr/local\n>>> Creating ollama user...\n>>> Enabling and starting ollama service...\n>>> The Ollama API is now available at 127.0.0.1:11434.\n>>> Install complete. Run \"ollama\" from the command line.\n",
    },
    Installer {
        name: "docker",
        packages: &["docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin"],
        files: &[],
        units: &[],
        user: None,
        stdout: "# Executing docker install script\n",
    },
    Installer {
        name: "nvidia-driver",
        packages: &[],
        files: &["/usr/bin/nvidia-smi", "/usr/lib/x86_64-linux-gnu/libcuda.so.1"],
        units: &[],
        user: None,
        stdout: "Verifying archive integrity... OK\nUncompressing NVIDIA Accelerated Graphics Driver for Linux-x86_64\n",
    },
];

/// The marker a downloaded installer carries so `sh <file>` knows what it is.
pub(crate) const INSTALLER_MARK: &str = "# sim-installer: ";
/// The marker of a downloaded `.deb`.
pub(crate) const DEB_MARK: &str = "sim-deb: ";

/// The marker of a downloaded release archive (`tar` unpacks it from [`archive_members`]).
pub(crate) const ARCHIVE_MARK: &str = "sim-archive: ";

/// Release archives the catalogue knows, by the name their marker carries: each member's path
/// inside the archive and its mode.
pub(crate) fn archive_members(name: &str) -> Option<&'static [(&'static str, u32)]> {
    match name {
        "traefik" => Some(&[("CHANGELOG.md", 0o644), ("LICENSE.md", 0o644), ("traefik", 0o755)]),
        _ => None,
    }
}

/// Content of a download. Known installers and `.deb`s carry a marker the in-guest model
/// recognises; anything else is a placeholder naming the URL.
pub(crate) fn download(url: &str) -> Vec<u8> {
    let base = url.rsplit('/').next().unwrap_or(url);
    let installer = if url.contains("ollama.com/install.sh") {
        Some("ollama")
    } else if url.contains("get.docker.com") {
        Some("docker")
    } else if base.starts_with("NVIDIA-Linux-") && base.ends_with(".run") {
        Some("nvidia-driver")
    } else {
        None
    };
    if let Some(name) = installer {
        return format!("#!/bin/sh\n{INSTALLER_MARK}{name}\n").into_bytes();
    }
    if url.contains("github.com/traefik/traefik/releases/download/")
        && base.starts_with("traefik_")
        && base.ends_with("_linux_amd64.tar.gz")
    {
        return format!("{ARCHIVE_MARK}traefik\n# {url}\n").into_bytes();
    }
    if let Some(stem) = base.strip_suffix(".deb") {
        let name = stem.split('_').next().unwrap_or(stem);
        return format!("{DEB_MARK}{name}\n").into_bytes();
    }
    if base.ends_with(".crt") || base.ends_with(".pem") || url.contains("/roots.pem") {
        return format!("-----BEGIN CERTIFICATE-----\nc2ltIGNlcnQgZm9yIHt1cmx9\n-----END CERTIFICATE-----\n# {url}\n")
            .into_bytes();
    }
    format!("sim download of {url}\n").into_bytes()
}

/// The pip distributions that install a console script.
pub(crate) fn pip_scripts(dist: &str) -> &'static [&'static str] {
    match dist {
        "vllm" => &["vllm"],
        "huggingface_hub" | "huggingface-hub" => &["huggingface-cli"],
        _ => &[],
    }
}

/// `<tool> --version` / `<tool> version` output for catalogue binaries.
pub(crate) fn tool_version(tool: &str) -> Option<&'static str> {
    Some(match tool {
        "docker" => "Docker version 27.5.1, build 9f9e405\n",
        "step" => "Smallstep CLI/0.28.2 (linux/amd64)\nRelease Date: 2025-01-17 00:00 UTC\n",
        "ollama" => "ollama version is 0.5.7\n",
        "vllm" => "0.7.2\n",
        "python3" => "Python 3.12.3\n",
        "nvidia-ctk" => "NVIDIA Container Toolkit CLI version 1.17.4\n",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let d = package("docker.io").unwrap();
        assert_eq!(d.units, &["docker.service", "docker.socket"]);
        assert_eq!(package("jq").unwrap().files, vec!["/usr/bin/jq"]);
        assert!(package("nvidia-utils-550").is_some());
        assert!(package("nvidia-utils-").is_none());
        assert!(package("no-such-thing").is_none());
        assert_eq!(package("docker-ce").unwrap().repo, Some("download.docker.com"));
        for b in BASE_PACKAGES {
            assert!(package(b).is_some(), "{b}");
        }
        for p in PACKAGES {
            for d in p.deps {
                assert!(package(d).is_some(), "{} needs unknown {d}", p.name);
            }
        }
    }

    #[test]
    fn downloads_carry_markers() {
        assert_eq!(download("https://ollama.com/install.sh"), b"#!/bin/sh\n# sim-installer: ollama\n");
        assert_eq!(
            download("https://dl.smallstep.com/cli/docs-cli-install/latest/step-cli_amd64.deb"),
            b"sim-deb: step-cli\n"
        );
        assert!(String::from_utf8(download("https://x/y")).unwrap().contains("https://x/y"));
        let t =
            download("https://github.com/traefik/traefik/releases/download/v3.3.4/traefik_v3.3.4_linux_amd64.tar.gz");
        assert!(t.starts_with(b"sim-archive: traefik\n"));
        assert!(archive_members("traefik").unwrap().contains(&("traefik", 0o755)));
        assert!(archive_members("nope").is_none());
        assert_eq!(package("step-ca").unwrap().repo, Some("smallstep"));
        assert_eq!(
            package("util-linux").unwrap().files,
            vec!["/usr/bin/mount", "/usr/bin/mountpoint", "/usr/bin/umount", "/usr/sbin/runuser"]
        );
        assert_eq!(file_mode("/usr/bin/jq"), 0o755);
        assert_eq!(file_mode("/etc/os-release"), 0o644);
    }
}
