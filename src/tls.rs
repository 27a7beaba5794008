//! TLS for every outbound HTTPS client (status pages, probes, control targets): rustls with the
//! ring provider, installed once per process. No OpenSSL, and ring builds faster than aws-lc-rs
//! on small CI machines.

/// Installs rustls's ring provider as the process default. Idempotent: later calls do nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
