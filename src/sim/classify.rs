//! Read vs mutating commands, for the "dry-run is pure" guarantee. Strict: anything not
//! listed as a read is mutating.

pub(crate) fn is_mutating(argv: &[String]) -> bool {
    let a = |i: usize| argv.get(i).map(String::as_str).unwrap_or("");
    let read = match (a(0), a(1)) {
        ("pct", sub) => matches!(
            sub,
            "list" | "status" | "config" | "listsnapshot" | "pending"
        ),
        ("qm", "guest") => {
            // `qm guest cmd <id> <cmd>`: ping, info and get-* only read.
            a(2) == "cmd" && (matches!(a(4), "ping" | "info") || a(4).starts_with("get-"))
        }
        ("qm", "agent") => matches!(a(3), "ping" | "info") || a(3).starts_with("get-"),
        ("qm", sub) => matches!(
            sub,
            "list" | "status" | "config" | "listsnapshot" | "pending"
        ),
        ("zfs", sub) => matches!(sub, "list" | "get"),
        ("zpool", sub) => matches!(sub, "list" | "status" | "get"),
        ("pvesm", sub) => matches!(sub, "status" | "list"),
        ("pvesh", sub) => sub == "get",
        ("pve-firewall", sub) => sub == "status",
        ("exportfs", sub) => sub == "-v" || sub.is_empty(),
        ("file.read", _) => true,
        _ => false,
    };
    !read
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
        assert!(m("qm guest exec 100 -- true"));
        assert!(!m("qm agent 100 ping"));
        assert!(m("qm agent 100 shutdown"));
        assert!(!m("zpool status rpool"));
        assert!(m("zfs set a=b rpool"));
        assert!(m("pct exec 100 -- true"));
        assert!(!m("file.read /etc/hostname"));
        assert!(m("file.write /etc/hostname"));
        assert!(m("pve-firewall compile"));
        assert!(m("apt-get update"));
    }
}
