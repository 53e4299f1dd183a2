//! `waymark site build` and `waymark serve`: the guidance site, exported or live.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use waymark_web::server::{self, Guide};
use waymark_web::site;

use crate::origin::Origin;

fn render(origin: &Origin, templates: Option<&Path>) -> anyhow::Result<(site::Built, usize)> {
    let loaded = origin.load()?;
    let errors = waymark_model::lint(&loaded)
        .iter()
        .filter(|f| f.severity == waymark_model::Severity::Error)
        .count();
    let dates = site::last_modified(&loaded.model);
    let built = site::build(&loaded.model, &dates, templates)?;
    Ok((built, errors))
}

fn warn_errors(errors: usize) {
    if errors > 0 {
        eprintln!(
            "note: these pages have {errors} error(s); broken links are shown as plain text. `waymark model lint` lists them"
        );
    }
}

pub fn build(origin: &Origin, templates: Option<&Path>, out: &Path) -> anyhow::Result<ExitCode> {
    let (built, errors) = render(origin, templates)?;
    built.write(out)?;
    eprintln!("wrote {} files to {}", built.files.len(), out.display());
    warn_errors(errors);
    Ok(ExitCode::SUCCESS)
}

pub fn serve(
    origin: Origin,
    templates: Option<PathBuf>,
    bind: SocketAddr,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut watched = origin.watched();
        watched.extend(templates.iter().cloned());
        let builder_origin = origin.clone();
        let builder_templates = templates.clone();
        let guide = tokio::task::spawn_blocking(move || {
            Guide::new(Box::new(move || {
                render(&builder_origin, builder_templates.as_deref())
                    .map(|(built, errors)| {
                        warn_errors(errors);
                        built
                    })
                    .map_err(|e| format!("{e:#}"))
            }))
        })
        .await
        .context("the first build of the site stopped")?
        .map_err(anyhow::Error::msg)?;
        let guide = Arc::new(guide);
        server::watch(Arc::clone(&guide), watched, Duration::from_secs(2));
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind}"))?;
        let addr = listener.local_addr().unwrap_or(bind);
        eprintln!("Waymark is serving the guidance site at http://{addr}/guide/ (Ctrl-C stops it)");
        axum::serve(listener, server::router(guide))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the server stopped")?;
        Ok(ExitCode::SUCCESS)
    })
}
