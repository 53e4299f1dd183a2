//! Integration tests for waymark-web: one binary, a module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod app;
mod community;
mod webhooks;

/// The application's logs (a page's internal error, say) in the failing
/// test's output.
pub fn logs() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
}

pub fn python(script: &str, input: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python refused it: {}\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether Python can import `modules` ("icalendar, aiosmtpd").
pub fn python_has(modules: &str) -> bool {
    std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A real SMTP server on loopback: Python's aiosmtpd, keeping what it
/// receives in a Maildir. Stopped (and its Maildir removed) on drop.
#[derive(Debug)]
pub struct Sink {
    pub port: u16,
    pub maildir: std::path::PathBuf,
    child: std::process::Child,
}

impl Sink {
    pub async fn start() -> Sink {
        use std::process::{Command, Stdio};
        let port = waymark_store::testing::free_port();
        let maildir =
            std::env::temp_dir().join(format!("waymark-sink-{}-{port}", std::process::id()));
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Sink {
            port,
            maildir,
            child,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// What `script` (Python, given the Maildir's path as `sys.argv[1]`)
    /// prints about the messages received.
    pub fn read(&self, script: &str) -> String {
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&self.maildir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}
