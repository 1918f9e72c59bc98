//! Portainer's HTTPS (port 9443): started with `--sslcert X --sslkey Y` it serves that
//! certificate chain and key (api/cmd/portainer/main.go → initSSLService); without them it
//! makes a self-signed certificate of its own at first start, which no client trusting only the
//! lab root CA accepts. TLS 1.2 and 1.3 by rustls with the ring provider, the one phoenix uses.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate chain (leaf first) and its key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsIdentity {
    pub cert_chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        write!(f, "TlsIdentity({} bytes of certificates)", self.cert_chain_pem.len())
    }
}

impl TlsIdentity {
    /// What Portainer makes for itself without `--sslcert`: a self-signed certificate for
    /// `localhost`, with a fresh key.
    pub fn self_signed() -> Result<TlsIdentity, String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(|e| e.to_string())?;
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Portainer.io");
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        Ok(TlsIdentity { cert_chain_pem: cert.pem().into_bytes(), key_pem: key.serialize_pem().into_bytes() })
    }

    /// Whether Portainer could load it (see `acceptor`).
    pub fn check(&self) -> Result<(), String> {
        self.acceptor().map(|_| ())
    }

    /// The acceptor serving this identity; `Err` as Go's `tls.LoadX509KeyPair` would fail
    /// (no certificate, no key, or a key that is not the certificate's).
    pub(crate) fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&self.cert_chain_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls: failed to find any PEM data in certificate input ({e})"))?;
        if certs.is_empty() {
            return Err("tls: failed to find any PEM data in certificate input".into());
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .map_err(|e| format!("tls: failed to find any PEM data in key input ({e})"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("tls: private key does not match public key ({e})"))?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}
