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
