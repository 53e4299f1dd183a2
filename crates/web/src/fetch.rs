//! One outgoing HTTP/1.1 request, as webhooks and sign-in providers need
//! it: to an address already chosen, over TLS checked against the Web PKI
//! roots (ring) for `https`, following no redirects, reading at most a
//! bounded answer. Callers put their own time limit around it.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
    /// Whether the whole body was read (it was within the limit).
    pub complete: bool,
}

/// A TLS connector that trusts the Web PKI roots, over ring.
pub fn tls() -> tokio_rustls::TlsConnector {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    let config = match config {
        Ok(c) => c,
        // ring offers the default protocol versions; this cannot fail with
        // it, but without TLS plain http still works.
        Err(e) => {
            tracing::error!("TLS is unavailable: {e}");
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The request line's target and the `Host` header for `url`.
pub fn target(url: &url::Url) -> (String, String) {
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let host = url.host_str().unwrap_or_default();
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    (path, authority)
}

/// The addresses `url`'s host has, with its port.
pub async fn resolve(url: &url::Url) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().ok_or("the address has no host")?;
    let port = url
        .port_or_known_default()
        .ok_or("the address has no port")?;
    Ok(match url.host() {
        Some(url::Host::Ipv4(a)) => vec![SocketAddr::new(a.into(), port)],
        Some(url::Host::Ipv6(a)) => vec![SocketAddr::new(a.into(), port)],
        _ => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot find {host}: {e}"))?
            .collect(),
    })
}

/// Sends `request` to `addr` (for `url`, whose scheme chooses TLS and whose
/// host TLS checks), and reads at most `limit` bytes of the answer.
pub async fn send(
    tls: &tokio_rustls::TlsConnector,
    url: &url::Url,
    addr: SocketAddr,
    request: hyper::Request<Full<Bytes>>,
    limit: usize,
) -> Result<Answer, String> {
    let host = url.host_str().ok_or("the address has no host")?;
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    if url.scheme() == "https" {
        let name =
            rustls_pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| format!("{host} cannot be checked by TLS: {e}"))?;
        let tls = tls
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS with {host} failed: {e}"))?;
        exchange(TokioIo::new(tls), request, limit).await
    } else {
        exchange(TokioIo::new(stream), request, limit).await
    }
}

async fn exchange<T>(
    io: TokioIo<T>,
    request: hyper::Request<Full<Bytes>>,
    limit: usize,
) -> Result<Answer, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP failed: {}", causes(&e)))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let answer = async {
        let r = send
            .send_request(request)
            .await
            .map_err(|e| format!("HTTP failed: {}", causes(&e)))?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let mut body = Vec::new();
        let mut frames = r.into_body();
        // A body that breaks off or runs past the limit is incomplete; the
        // status still came.
        let mut complete = false;
        loop {
            match frames.frame().await {
                None => {
                    complete = true;
                    break;
                }
                Some(Err(_)) => break,
                Some(Ok(frame)) => {
                    if let Some(d) = frame.data_ref() {
                        if body.len() + d.len() > limit {
                            break;
                        }
                        body.extend_from_slice(d);
                    }
                }
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
            complete,
        })
    }
    .await;
    driver.abort();
    answer
}

/// An error and its causes, as one line ("connection error: connection
/// reset by peer").
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        out.push_str(": ");
        out.push_str(&c.to_string());
        next = c.source();
    }
    out
}
