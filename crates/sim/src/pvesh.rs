//! `pvesh get` for the listing endpoints phoenix batches (contracts §D.3). The simulator has
//! no pvestatd lag: guest status and name are current immediately.

use super::args::Args;
use super::guest::memory_mib;
use super::reply::{fail, ok};
use super::state::{Guest, GuestKind, PowerState, SimState};
use crate::output::Output;
use serde_json::{json, Map, Value};

pub(crate) fn run(st: &mut SimState, argv: &[String]) -> Output {
    let sub = argv.first().map(String::as_str).unwrap_or("");
    let args = match Args::parse(argv.get(1..).unwrap_or(&[]), &["noheader", "noborder", "human-readable"]) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let Some(path) = args.positional.first() else {
        return fail("400 not enough arguments\npvesh get <api_path> [OPTIONS] [FORMAT_OPTIONS]");
    };
    let norm = path.trim_end_matches('/').replace("/nodes/localhost/", &format!("/nodes/{}/", st.node));
    if sub != "get" {
        // Only reads are simulated through pvesh; phoenix mutates with pct/qm/pvesm.
        return fail(format!("no '{sub}' handler for '{path}'"));
    }
    let value = match get(st, &norm, &args) {
        Ok(v) => v,
        Err(e) => return e,
    };
    match args.get("output-format").unwrap_or("text") {
        "json" => ok(format!("{}\n", canonical(&value))),
        "json-pretty" => ok(format!("{}\n", perl_pretty(&value, 0))),
        other => fail(format!("sim: pvesh --output-format {other} is not simulated; use json or json-pretty")),
    }
}

fn get(st: &SimState, path: &str, args: &Args) -> Result<Value, Output> {
    let node_prefix = format!("/nodes/{}", st.node);
    match path {
        "/cluster/resources" => {
            let ty = args.get("type");
            if let Some(t) = ty {
                if !matches!(t, "vm" | "storage" | "node" | "sdn") {
                    return Err(fail(format!("400 Parameter verification failed.\ntype: value '{t}' does not have a value in the enumeration 'vm, storage, node, sdn'\npvesh get <api_path> [OPTIONS] [FORMAT_OPTIONS]")));
                }
            }
            let mut out = Vec::new();
            if ty.is_none_or(|t| t == "vm") {
                out.extend(st.guests.iter().map(|(id, g)| resource_entry(st, *id, g)));
            }
            if ty.is_none_or(|t| t == "storage") {
                for (id, s) in &st.storages {
                    out.push(json!({
                        "id": format!("storage/{}/{id}", st.node), "type": "storage", "storage": id, "node": st.node,
                        "plugintype": s.kind, "status": if s.disabled() { "unknown" } else { "available" },
                        "shared": if s.options.get("shared").is_some_and(|v| v == "1") || matches!(s.kind.as_str(), "nfs" | "cifs" | "cephfs" | "rbd" | "pbs") { 1 } else { 0 },
                        "content": s.content(), "maxdisk": 1_099_511_627_776u64, "disk": 109_951_162_777u64,
                    }));
                }
            }
            if ty.is_none_or(|t| t == "node") {
                out.push(json!({
                    "id": format!("node/{}", st.node), "type": "node", "node": st.node, "status": "online",
                    "maxcpu": 16, "cpu": 0.02, "maxmem": 68_719_476_736u64, "mem": 4_294_967_296u64,
                    "maxdisk": 100_000_000_000u64, "disk": 2_254_857_830u64, "uptime": 86_400, "level": "",
                }));
            }
            Ok(Value::Array(out))
        }
        p if p == format!("{node_prefix}/lxc") || p == format!("{node_prefix}/qemu") => {
            let kind = if p.ends_with("/lxc") { GuestKind::Lxc } else { GuestKind::Qemu };
            Ok(Value::Array(
                st.guests.iter().filter(|(_, g)| g.kind == kind).map(|(id, g)| node_entry(*id, g)).collect(),
            ))
        }
        p if p.starts_with("/nodes/") && !p.starts_with(&format!("{node_prefix}/")) && p != node_prefix => {
            let node = p.trim_start_matches("/nodes/").split('/').next().unwrap_or("");
            Err(fail(format!(
                "hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"
            )))
        }
        _ => Err(fail(format!("no 'get' handler for '{path}'"))),
    }
}

fn disk_bytes(g: &Guest) -> u64 {
    let key = match g.kind {
        GuestKind::Lxc => "rootfs",
        GuestKind::Qemu => "scsi0",
    };
    g.config
        .get(key)
        .and_then(|v| v.split(',').find_map(|p| p.strip_prefix("size=")).and_then(crate::size::pve_parse))
        .unwrap_or(0)
}

fn name_of(id: u32, g: &Guest) -> String {
    match g.kind {
        GuestKind::Lxc => g.config.get("hostname").cloned().unwrap_or_else(|| format!("CT{id}")),
        GuestKind::Qemu => g.config.get("name").cloned().unwrap_or_else(|| format!("VM {id}")),
    }
}

fn stats(id: u32, g: &Guest, obj: &mut Map<String, Value>) {
    let running = g.status == PowerState::Running;
    let maxmem = memory_mib(g, if g.kind == GuestKind::Lxc { 512 } else { 2048 }) << 20;
    obj.insert("vmid".into(), json!(id));
    obj.insert("name".into(), json!(name_of(id, g)));
    obj.insert("status".into(), json!(g.status.as_str()));
    obj.insert("maxmem".into(), json!(maxmem));
    obj.insert("mem".into(), json!(if running { maxmem / 4 } else { 0 }));
    obj.insert("maxdisk".into(), json!(disk_bytes(g)));
    obj.insert("disk".into(), json!(if running { disk_bytes(g) / 10 } else { 0 }));
    obj.insert("cpu".into(), json!(0));
    for k in ["netin", "netout", "diskread", "diskwrite", "uptime"] {
        obj.insert(k.into(), json!(if running && k == "uptime" { 60 } else { 0 }));
    }
    obj.insert("template".into(), json!(if g.is_template() { 1 } else { 0 }));
    if let Some(l) = g.lock() {
        obj.insert("lock".into(), json!(l));
    }
    if let Some(t) = g.config.get("tags") {
        obj.insert("tags".into(), json!(t));
    }
}

fn resource_entry(st: &SimState, id: u32, g: &Guest) -> Value {
    let ty = match g.kind {
        GuestKind::Lxc => "lxc",
        GuestKind::Qemu => "qemu",
    };
    let mut obj = Map::new();
    obj.insert("id".into(), json!(format!("{ty}/{id}")));
    obj.insert("type".into(), json!(ty));
    obj.insert("node".into(), json!(st.node));
    let cpus: u64 = g.config.get("cores").and_then(|c| c.parse().ok()).unwrap_or(1);
    obj.insert("maxcpu".into(), json!(cpus));
    stats(id, g, &mut obj);
    Value::Object(obj)
}

fn node_entry(id: u32, g: &Guest) -> Value {
    let mut obj = Map::new();
    let cpus: u64 = g.config.get("cores").and_then(|c| c.parse().ok()).unwrap_or(1);
    obj.insert("cpus".into(), json!(cpus));
    stats(id, g, &mut obj);
    if g.kind == GuestKind::Lxc {
        obj.insert("type".into(), json!("lxc"));
        let swap: u64 = g.config.get("swap").and_then(|s| s.parse().ok()).unwrap_or(512);
        obj.insert("maxswap".into(), json!(swap << 20));
        obj.insert("swap".into(), json!(0));
    }
    if g.status == PowerState::Running {
        obj.insert("pid".into(), json!(10_000 + id));
    }
    Value::Object(obj)
}

/// Perl `to_json(canonical)`: one line, object keys sorted.
pub(crate) fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k]))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Perl `to_json(pretty, canonical)`: 3-space indent, `" : "`, keys sorted; no trailing newline.
pub(crate) fn perl_pretty(v: &Value, level: usize) -> String {
    let pad = "   ".repeat(level + 1);
    let end = "   ".repeat(level);
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{pad}{} : {}", Value::String((*k).clone()), perl_pretty(&m[*k], level + 1)))
                .collect();
            format!("{{\n{}\n{end}}}", parts.join(",\n"))
        }
        Value::Array(a) if !a.is_empty() => {
            let parts: Vec<String> = a.iter().map(|x| format!("{pad}{}", perl_pretty(x, level + 1))).collect();
            format!("[\n{}\n{end}]", parts.join(",\n"))
        }
        other => canonical(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_line(st: &mut SimState, line: &str) -> Output {
        let v: Vec<String> = line.split_whitespace().map(String::from).collect();
        run(st, &v[1..])
    }

    #[test]
    fn resources_json_line() {
        let mut st = SimState::default();
        let mut g = Guest::new(GuestKind::Lxc);
        g.config.insert("hostname".into(), "web01".into());
        g.status = PowerState::Running;
        st.guests.insert(101, g);
        let out = run_line(&mut st, "pvesh get /cluster/resources --type vm --output-format json");
        assert_eq!(out.code, 0);
        let text = out.stdout_str();
        assert!(
            text.starts_with("[{\"cpu\":0,\"disk\":0,\"diskread\":0,\"diskwrite\":0,\"id\":\"lxc/101\",\"maxcpu\":1,"),
            "{text}"
        );
        assert!(text.ends_with("\"type\":\"lxc\",\"uptime\":60,\"vmid\":101}]\n"));
        let storages =
            run_line(&mut st, "pvesh get /cluster/resources --type storage --output-format json").stdout_str();
        assert!(storages.contains("\"id\":\"storage/pve/local-zfs\""));
        let lxc = run_line(&mut st, "pvesh get /nodes/localhost/lxc --output-format json").stdout_str();
        assert!(lxc.contains("\"pid\":10101") && lxc.contains("\"type\":\"lxc\""));
        assert_eq!(run_line(&mut st, "pvesh get /nodes/pve/qemu --output-format json").stdout_str(), "[]\n");
        assert_eq!(
            run_line(&mut st, "pvesh get /bogus --output-format json").stderr_str(),
            "no 'get' handler for '/bogus'\n"
        );
    }

    #[test]
    fn pretty_printer() {
        let v = json!({"out-data": "hello\n", "exitcode": 0, "exited": 1});
        assert_eq!(
            perl_pretty(&v, 0),
            "{\n   \"exitcode\" : 0,\n   \"exited\" : 1,\n   \"out-data\" : \"hello\\n\"\n}"
        );
        assert_eq!(perl_pretty(&json!([]), 0), "[]");
    }
}
