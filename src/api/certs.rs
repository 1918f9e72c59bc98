//! `certs::` — the certificates the lab CA issues: what is wanted (the manifest plus what the
//! services need), how `step ca certificate` is called for one, and whether one installed
//! certificate must be issued again. The order of work (read, issue, copy, reload) lives in
//! `stdlib/sync/certs.rhai`; this namespace only decides and formats.

use super::at;
use super::convert::to_dynamic;
use super::{Ctx, Namespace, Res};
use crate::facts::x509::{parse, CertFacts};
use crate::generate::renewal_timer;
use crate::inventory::certs::{desired, go_duration, parse_duration, CertSpec, PostInstall};
use crate::inventory::edge::Edge;
use crate::inventory::Inventory;
use rhai::{Array, Dynamic, Map, NativeCallContext};

/// Where the CA guest's step-ca answers: the CA itself (`localhost` is one of its DNS names, see
/// the step_ca feature), so issuing works before the lab's DNS does.
const CA_URL: &str = "https://localhost:9000";

/// The edge roles and routes the derived certificates follow (the same derivation the DNS,
/// Traefik and Nginx stages use, so a certificate names exactly the routed hosts).
fn edge_of(inv: &Inventory) -> Result<Edge, String> {
    crate::inventory::edge::derive(inv).map_err(|e| e.to_string())
}

/// Every certificate wanted, in the order the stage handles them.
fn wanted(inv: &Inventory) -> Result<Vec<CertSpec>, String> {
    let edge = edge_of(inv)?;
    let name = inv.portainer_hostname();
    // Without the server's compose file there is no server to restart (the Portainer stage says why).
    let container = super::compose::server_container(inv).unwrap_or_else(|_| "portainer_server".to_string());
    let portainer = name.as_deref().map(|n| (n, container.as_str()));
    Ok(desired(inv.certs.as_ref(), &edge, portainer, &mut inv.guests()))
}

/// A certificate as the stage sees it.
fn spec_map(c: &CertSpec) -> Map {
    let mut m = Map::new();
    m.insert("common_name".into(), c.common_name.clone().into());
    m.insert("sans".into(), c.sans.iter().cloned().map(Dynamic::from).collect::<Array>().into());
    m.insert("guest".into(), (c.guest as i64).into());
    m.insert("kind".into(), c.guest_kind.to_string().into());
    m.insert("cert_path".into(), c.cert_path.clone().into());
    m.insert("key_path".into(), c.key_path.clone().into());
    m.insert("owner".into(), c.owner.clone().into());
    m.insert("group".into(), c.group.clone().into());
    m.insert("key_mode".into(), format!("{:04o}", c.key_mode).into());
    m.insert("lifetime".into(), go_duration(c.lifetime_secs).into());
    m.insert("lifetime_secs".into(), (c.lifetime_secs as i64).into());
    m.insert("renew_before_secs".into(), (c.renew_before_secs as i64).into());
    m.insert("origin".into(), c.origin.clone().into());
    let post = match &c.post_install {
        None => Dynamic::UNIT,
        Some(PostInstall::Reload { guest, unit }) => {
            let mut p = Map::new();
            p.insert("guest".into(), (*guest as i64).into());
            p.insert("reload".into(), unit.clone().into());
            p.into()
        }
        Some(PostInstall::RestartContainer { guest, container }) => {
            let mut p = Map::new();
            p.insert("guest".into(), (*guest as i64).into());
            p.insert("restart_container".into(), container.clone().into());
            p.into()
        }
        Some(PostInstall::Exec { guest, argv }) => {
            let mut p = Map::new();
            p.insert("guest".into(), (*guest as i64).into());
            p.insert("argv".into(), argv.iter().cloned().map(Dynamic::from).collect::<Array>().into());
            p.into()
        }
    };
    m.insert("post".into(), post);
    m
}

fn str_of(m: &Map, key: &str) -> Res<String> {
    m.get(key).and_then(|v| v.clone().into_string().ok()).ok_or_else(|| {
        format!("certs: the certificate map has no string `{key}` (pass a map from certs::desired())").into()
    })
}

fn strings_of(m: &Map, key: &str) -> Res<Vec<String>> {
    let arr = m
        .get(key)
        .and_then(|v| v.clone().try_cast::<Array>())
        .ok_or_else(|| format!("certs: the certificate map has no array `{key}`"))?;
    arr.into_iter().map(|v| v.into_string().map_err(|t| format!("certs: `{key}` holds a {t}").into())).collect()
}

/// step-ca's default longest X.509 certificate (`maxTLSCertDuration`) when neither the
/// provisioner nor the authority sets one.
const STEP_DEFAULT_MAX_SECS: u64 = 24 * 3600;

/// The longest certificate the provisioner `name` may issue, from the CA's `ca.json`.
pub fn provisioner_max_secs(ca_json: &str, name: &str) -> Result<u64, String> {
    let v: serde_json::Value = serde_json::from_str(ca_json).map_err(|e| format!("ca.json is not JSON: {e}"))?;
    let from = |claims: &serde_json::Value| claims["maxTLSCertDuration"].as_str().and_then(parse_duration);
    let prov = v["authority"]["provisioners"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .ok_or_else(|| format!("ca.json has no provisioner `{name}`"))?;
    Ok(from(&prov["claims"]).or_else(|| from(&v["authority"]["claims"])).unwrap_or(STEP_DEFAULT_MAX_SECS))
}

/// Why an installed certificate must be issued again, or `None` when it is fine. `facts` is
/// what `openssl x509` said (`None`: it could not read the file); `ca_key_id` the subject key
/// identifier of the CA's intermediate, which every certificate it issued carries as its
/// authority key identifier.
pub fn renewal_reason(want_sans: &[String], facts: Option<&CertFacts>, ca_key_id: &str, force: bool) -> Option<String> {
    let Some(f) = facts else {
        return Some("missing".into());
    };
    if force {
        return Some("--force".into());
    }
    if f.authority_key_id.as_deref() != Some(ca_key_id) {
        return Some(match &f.authority_key_id {
            Some(k) => format!("issued by another CA (authority key {k}, the lab CA's is {ca_key_id})"),
            None => "not issued by the lab CA (no authority key identifier)".into(),
        });
    }
    let mut have: Vec<String> = f.sans.clone();
    let mut want: Vec<String> = want_sans.iter().map(|s| s.to_ascii_lowercase()).collect();
    have.sort();
    have.dedup();
    want.sort();
    want.dedup();
    if have != want {
        return Some(format!("names differ: has [{}], wants [{}]", have.join(", "), want.join(", ")));
    }
    match f.expiring {
        Some(false) => None,
        Some(true) => Some(format!("expires {} (within the renewal window)", f.not_after.as_deref().unwrap_or("soon"))),
        None => Some("its expiry could not be read".into()),
    }
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new(
        "certs",
        "Certificates from the lab CA: what is wanted (certificate-manifest.json plus the gateway, Traefik and Portainer), \
         the step command that issues one, and whether an installed one must be issued again.",
    );

    let c = ctx.clone();
    ns.add(
        "authority",
        &["-> int"],
        "The guest that runs the lab CA (the step_ca feature), or () when none is declared.",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                Ok(edge_of(&run.inventory)?.ca.map(|g| Dynamic::from(g.id as i64)).unwrap_or(Dynamic::UNIT))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "desired",
        &["-> Array"],
        "Every certificate wanted, each #{common_name, sans, guest, kind, cert_path, key_path, owner, group, key_mode, \
         lifetime, renew_before_secs, origin, post} (post: (), #{guest, reload} or #{guest, argv}). Derived ones first \
         (gateway, Traefik, Portainer); a manifest entry with the same common name replaces a derived one.",
        move |nc: NativeCallContext| -> Res<Array> {
            at(&nc, || {
                let run = c.run()?;
                Ok(wanted(&run.inventory)?.iter().map(|s| Dynamic::from(spec_map(s))).collect())
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "renewal_units",
        &["-> Map"],
        "The systemd service and timer that renew certificates hourly on the host where phoenix runs \
         (`phoenix --host local --config-dir <this config> sync certs`): #{service_path, service, timer_path, timer, \
         timer_unit}. The stage installs them only on a local run (or with the install_timer option).",
        move |nc: NativeCallContext| -> Res<Map> {
            at(&nc, || {
                let run = c.run()?;
                let exe =
                    std::env::current_exe().map_err(|e| format!("certs::renewal_units: where is phoenix? {e}"))?;
                let dir = run.inventory.config_dir.canonicalize().unwrap_or_else(|_| run.inventory.config_dir.clone());
                let service = renewal_timer::service(&exe.display().to_string(), &dir.display().to_string())
                    .map_err(|e| format!("certs::renewal_units: {e}"))?;
                let mut m = Map::new();
                m.insert("service_path".into(), renewal_timer::SERVICE_PATH.into());
                m.insert("service".into(), service.into());
                m.insert("timer_path".into(), renewal_timer::TIMER_PATH.into());
                m.insert("timer".into(), renewal_timer::timer().into());
                m.insert("timer_unit".into(), renewal_timer::TIMER_UNIT.into());
                Ok(m)
            })
        },
    );

    ns.add(
        "inspect_argv",
        &["cert: Map", "-> Array"],
        "The one read that answers every renewal question about an installed certificate: \
         `openssl x509 -in <cert> -noout -enddate -ext subjectAltName,authorityKeyIdentifier -checkend <renew_before>`.",
        move |nc: NativeCallContext, cert: Map| -> Res<Array> {
            at(&nc, || {
                let path = str_of(&cert, "cert_path")?;
                let secs = cert
                    .get("renew_before_secs")
                    .and_then(|v| v.as_int().ok())
                    .ok_or("certs::inspect_argv: the certificate map has no `renew_before_secs`")?;
                Ok([
                    "openssl",
                    "x509",
                    "-in",
                    path.as_str(),
                    "-noout",
                    "-enddate",
                    "-ext",
                    "subjectAltName,authorityKeyIdentifier",
                    "-checkend",
                    secs.to_string().as_str(),
                ]
                .iter()
                .map(|s| Dynamic::from(s.to_string()))
                .collect())
            })
        },
    );

    ns.add(
        "provisioner_max_secs",
        &["ca_json: String", "provisioner: String", "-> int"],
        "The longest certificate (seconds) a provisioner of the CA's ca.json may issue: its claims, the \
         authority's, or step-ca's default of 24 h.",
        move |nc: NativeCallContext, ca_json: &str, name: &str| -> Res<i64> {
            at(&nc, || Ok(provisioner_max_secs(ca_json, name)? as i64))
        },
    );

    ns.add(
        "duration",
        &["secs: int", "-> String"],
        "Seconds as a duration step takes (`2160h`).",
        move |secs: i64| -> String { go_duration(secs.max(0) as u64) },
    );

    ns.add(
        "parse",
        &["stdout: String", "-> Map"],
        "What `openssl x509 -noout -enddate -ext … -checkend N` printed, as #{not_after, sans, authority_key_id, \
         subject_key_id, expiring}.",
        move |nc: NativeCallContext, stdout: &str| -> Res<Dynamic> { at(&nc, || to_dynamic(&parse(stdout))) },
    );

    ns.add(
        "renewal_reason",
        &["cert: Map", "probe: Map", "ca_key_id: String", "force: bool", "-> String"],
        "Why the certificate must be issued (again), or () when the installed one is fine. `probe` is guest::probe's \
         result for certs::inspect_argv(cert) (#{code: ()} — unknown until apply — counts as missing).",
        move |nc: NativeCallContext, cert: Map, probe: Map, ca_key_id: &str, force: bool| -> Res<Dynamic> {
            at(&nc, || {
                let sans = strings_of(&cert, "sans")?;
                let code = probe.get("code").and_then(|v| v.as_int().ok());
                let stdout = probe.get("stdout").and_then(|v| v.clone().into_string().ok()).unwrap_or_default();
                let facts = parse(&stdout);
                // Exit 1 with a verdict is "will expire"; without one the file could not be read.
                let readable = matches!(code, Some(0)) || (code == Some(1) && facts.expiring == Some(true));
                let reason = renewal_reason(&sans, readable.then_some(&facts), ca_key_id, force);
                Ok(reason.map(Dynamic::from).unwrap_or(Dynamic::UNIT))
            })
        },
    );

    ns.add(
        "issue_argv",
        &[
            "cert: Map",
            "crt: String",
            "key: String",
            "provisioner: String",
            "password_file: String",
            "root: String",
            "-> Array",
        ],
        "`step ca certificate` for the certificate into `crt`/`key` (paths in the CA guest): every SAN, the \
         provisioner and its password *file* (the password never passes through phoenix), the declared lifetime, \
         the CA itself as the URL (`localhost`, so it works before DNS does), `--force` (the stage decided).",
        move |nc: NativeCallContext,
              cert: Map,
              crt: &str,
              key: &str,
              provisioner: &str,
              password_file: &str,
              root: &str|
              -> Res<Array> {
            at(&nc, || {
                let mut argv = vec![
                    "step".to_string(),
                    "ca".into(),
                    "certificate".into(),
                    str_of(&cert, "common_name")?,
                    crt.into(),
                    key.into(),
                ];
                for s in strings_of(&cert, "sans")? {
                    argv.push("--san".into());
                    argv.push(s);
                }
                argv.extend([
                    "--provisioner".to_string(),
                    provisioner.into(),
                    "--provisioner-password-file".into(),
                    password_file.into(),
                    "--not-after".into(),
                    str_of(&cert, "lifetime")?,
                    "--ca-url".into(),
                    CA_URL.into(),
                    "--root".into(),
                    root.into(),
                    "--force".into(),
                ]);
                Ok(argv.into_iter().map(Dynamic::from).collect())
            })
        },
    );
    ns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(aki: &str, sans: &[&str], expiring: bool) -> CertFacts {
        CertFacts {
            not_after: Some("Jan  1 07:21:51 2027 GMT".into()),
            sans: sans.iter().map(|s| s.to_string()).collect(),
            authority_key_id: Some(aki.into()),
            subject_key_id: None,
            expiring: Some(expiring),
        }
    }

    #[test]
    fn the_provisioner_limit_comes_from_its_claims_or_the_default() {
        let ca = |claims: &str| {
            format!(r#"{{"authority": {{"provisioners": [{{"type": "JWK", "name": "admin"{claims}}}]}}}}"#)
        };
        assert_eq!(provisioner_max_secs(&ca(""), "admin"), Ok(24 * 3600));
        assert_eq!(
            provisioner_max_secs(&ca(r#", "claims": {"maxTLSCertDuration": "2160h0m0s"}"#), "admin"),
            Ok(2160 * 3600)
        );
        assert!(provisioner_max_secs(&ca(""), "other").is_err());
        assert!(provisioner_max_secs("nope", "admin").is_err());
    }

    #[test]
    fn renewal_only_when_a_reason_exists() {
        let want = vec!["a.lab".to_string(), "B.lab".to_string()];
        assert_eq!(renewal_reason(&want, Some(&facts("K", &["b.lab", "a.lab"], false)), "K", false), None);
        assert_eq!(renewal_reason(&want, None, "K", false).as_deref(), Some("missing"));
        assert_eq!(
            renewal_reason(&want, Some(&facts("K", &["a.lab", "b.lab"], false)), "K", true).as_deref(),
            Some("--force")
        );
        let other = renewal_reason(&want, Some(&facts("X", &["a.lab", "b.lab"], false)), "K", false).unwrap();
        assert!(other.starts_with("issued by another CA"), "{other}");
        let names = renewal_reason(&want, Some(&facts("K", &["a.lab"], false)), "K", false).unwrap();
        assert_eq!(names, "names differ: has [a.lab], wants [a.lab, b.lab]");
        let late = renewal_reason(&want, Some(&facts("K", &["a.lab", "b.lab"], true)), "K", false).unwrap();
        assert_eq!(late, "expires Jan  1 07:21:51 2027 GMT (within the renewal window)");
        let mut unknown = facts("K", &["a.lab", "b.lab"], false);
        unknown.expiring = None;
        assert!(renewal_reason(&want, Some(&unknown), "K", false).is_some());
    }
}
