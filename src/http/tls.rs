//! TLS trust: the lab's root CA and nothing else. phoenix never talks HTTPS "insecurely": a
//! server whose certificate does not chain to the given root (or names another host) is refused.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the CA file holds no PEM certificate (expected `-----BEGIN CERTIFICATE-----`)")]
    NoCertificate,
    #[error("the CA PEM cannot be read: {0}")]
    Pem(String),
    #[error("the CA certificate is refused as a trust anchor: {0}")]
    Anchor(String),
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// A rustls client configuration trusting exactly the certificates in `ca_pem`.
pub fn trust_config(ca_pem: &[u8]) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| TlsError::Pem(e.to_string()))?;
        roots.add(cert).map_err(|e| TlsError::Anchor(e.to_string()))?;
        count += 1;
    }
    if count == 0 {
        return Err(TlsError::NoCertificate);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// A configuration that trusts nothing: plain HTTP works, any HTTPS server is refused.
pub fn empty_trust() -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_a_certificate_is_refused() {
        assert!(matches!(trust_config(b"not a pem"), Err(TlsError::NoCertificate)));
        let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(trust_config(broken).is_err());
    }
}
