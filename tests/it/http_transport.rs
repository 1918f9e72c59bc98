//! The HTTP client's transport guarantees with real peers: HTTPS verified against the lab root
//! CA only (a server signed by another CA, or any server without a CA given, is refused), and
//! with `--host ssh://…` the traffic goes through a port forward on the run's SSH master,
//! cancelled when the route is dropped.

use crate::support::real_tools::{http_echo, https_echo, make_ca, make_leaf};
use crate::support::sshd::Sshd;
use phoenix::connector::Connector;
use phoenix::http::{Client, ClientOptions, Request};
use std::net::SocketAddr;

const NAME: &str = "portainer.lab.test";

fn client(port: u16, ca: Option<Vec<u8>>) -> Client {
    let mut o = ClientOptions::new(format!("https://{NAME}:{port}"));
    o.connect_to = Some(SocketAddr::from(([127, 0, 0, 1], port)));
    o.ca_pem = ca;
    o.retry.attempts = 1;
    Client::new(&o).expect("client")
}

#[test]
fn https_is_trusted_only_through_the_lab_root_ca() {
    let lab = tempfile::tempdir().unwrap();
    make_ca(lab.path());
    make_leaf(lab.path(), "portainer", &[NAME]);
    let other = tempfile::tempdir().unwrap();
    make_ca(other.path());
    let Some((_server, port)) = https_echo("tls", &lab.path().join("portainer.crt"), &lab.path().join("portainer.key"))
    else {
        eprintln!("python3 missing: TLS test skipped");
        return;
    };
    let ca = std::fs::read(lab.path().join("ca.crt")).unwrap();
    let resp = client(port, Some(ca)).send(&Request::get("/api/system/status")).expect("verified");
    assert_eq!(resp.status, 200);
    assert!(String::from_utf8_lossy(&resp.body).starts_with("upstream=tls host="), "{:?}", resp.body);

    let wrong = client(port, Some(std::fs::read(other.path().join("ca.crt")).unwrap()))
        .send(&Request::get("/"))
        .expect_err("another CA is not the lab's");
    assert!(wrong.to_string().to_lowercase().contains("certificate"), "{wrong}");
    let none = client(port, None).send(&Request::get("/")).expect_err("no CA, no trust");
    assert!(none.to_string().to_lowercase().contains("certificate"), "{none}");
}

#[test]
fn ssh_hosts_reach_services_through_a_forward_on_the_master() {
    let echo = http_echo("behind-ssh");
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    let route = c.reach("127.0.0.1", echo).expect("forward");
    let local = route.connect_to.expect("a local end");
    assert_ne!(local.port(), echo, "a new local port, not the service's");
    let mut o = ClientOptions::new(format!("http://lab-portainer.internal:{}", local.port()));
    o.connect_to = Some(local);
    let resp = Client::new(&o).unwrap().send(&Request::get("/")).expect("through the tunnel");
    assert!(String::from_utf8_lossy(&resp.body).starts_with("upstream=behind-ssh"), "{:?}", resp.body);
    assert_eq!(sshd.accepted(), 1, "one SSH connection for commands and forwards: {}", sshd.log());
    drop(route);
    assert!(std::net::TcpStream::connect(local).is_err(), "the forward is cancelled with its route");
    assert!(c.reach("-oProxyCommand=x", 80).is_err(), "an option is not a host");
    c.finish().unwrap();
}

/// A refused connection is retried with backoff by `send_raw` (a server restarting), but is the
/// answer at once for `look_raw` (a dry-run looking before the plan deploys the server); the
/// message names the URL the operator knows, not the port the tunnel listens on.
#[test]
fn a_look_takes_a_refused_connection_at_once_and_a_send_retries_it() {
    let closed = crate::support::sshd::free_port();
    let mut o = ClientOptions::new(format!("https://{NAME}:{closed}"));
    o.connect_to = Some(SocketAddr::from(([127, 0, 0, 1], closed)));
    o.shown_url = Some(format!("https://{NAME}:9443"));
    o.retry.first_delay = std::time::Duration::from_millis(1);
    o.retry.max_delay = std::time::Duration::from_millis(2);
    let c = Client::new(&o).expect("client");
    let e = c.look_raw(&Request::get("/api/system/status")).unwrap_err();
    assert_eq!(c.tries().len(), 1, "{:?}", c.tries());
    let text = e.to_string();
    assert!(text.contains(&format!("https://{NAME}:9443/api/system/status")), "{text}");
    assert!(!text.contains(&format!(":{closed}")), "the tunnel's port is not the operator's: {text}");
    c.send_raw(&Request::get("/api/system/status")).unwrap_err();
    assert_eq!(c.tries().len(), 1 + o.retry.attempts as usize, "{:?}", c.tries());
}
