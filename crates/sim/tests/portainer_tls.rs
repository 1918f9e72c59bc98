//! The Portainer simulator over HTTPS: a TLS client (tokio-rustls, ring) trusting one root
//! reaches it only when the simulator serves a certificate that root issued; a restart serves
//! the certificate it is given then, and one it cannot load changes nothing.

use std::sync::Arc;

use phoenix_sim::portainer::{start, PortainerConfig, TlsIdentity};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET /api/system/status` over TLS to `port`, trusting only `root`; the answer, or the error.
async fn status(port: u16, root: &TlsIdentity) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&root.cert_chain_pem) {
        roots.add(c.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let mut tls =
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| e.to_string())?;
    tls.write_all(b"GET /api/system/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.map_err(|e| e.to_string())?;
    Ok(answer)
}

#[tokio::test(flavor = "current_thread")]
async fn serves_the_certificate_it_is_given_and_a_restart_swaps_it() {
    let first = TlsIdentity::self_signed().unwrap();
    let sim = start(PortainerConfig { tls: Some(first.clone()), ..PortainerConfig::default() }).unwrap();
    assert!(sim.base_url().starts_with("https://127.0.0.1:"), "{}", sim.base_url());
    let answer = status(sim.port(), &first).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.contains("\"Version\""), "{answer}");

    let other = TlsIdentity::self_signed().unwrap();
    let refused = status(sim.port(), &other).await.unwrap_err();
    assert!(refused.contains("UnknownIssuer") || refused.contains("certificate"), "{refused}");

    // A key that is not the certificate's: Portainer could not start with it; nothing changes.
    let broken = TlsIdentity { cert_chain_pem: first.cert_chain_pem.clone(), key_pem: other.key_pem.clone() };
    assert!(sim.restart_with_tls(Some(&broken)).is_err());
    assert!(status(sim.port(), &first).await.is_ok(), "still the first certificate");

    sim.restart_with_tls(Some(&other)).unwrap();
    assert!(status(sim.port(), &first).await.is_err(), "the old certificate is gone");
    assert!(status(sim.port(), &other).await.unwrap().starts_with("HTTP/1.1 200 OK"));
}

/// A stopped container: the port refuses connections until it runs again — from the moment
/// `pause` / `resume` return.
#[tokio::test(flavor = "current_thread")]
async fn a_paused_server_refuses_connections_until_resumed() {
    let id = TlsIdentity::self_signed().unwrap();
    let sim = start(PortainerConfig { tls: Some(id.clone()), ..PortainerConfig::default() }).unwrap();
    assert!(status(sim.port(), &id).await.is_ok());
    sim.pause().unwrap();
    let e = tokio::net::TcpStream::connect(("127.0.0.1", sim.port())).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    sim.resume().unwrap();
    assert!(status(sim.port(), &id).await.unwrap().starts_with("HTTP/1.1 200 OK"));
    sim.pause().unwrap();
    sim.pause().unwrap();
    assert!(status(sim.port(), &id).await.is_err(), "pausing twice stays paused");
}
