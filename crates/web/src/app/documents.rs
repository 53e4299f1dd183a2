//! Uploaded documents and file downloads.

use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use waymark_core::{DomainError, EngagementId};
use waymark_store::StoreError;

use super::auth::SignedIn;
use super::delivery::delivery_page;
use super::forms::Version;
use super::records::{download, outcome_to_page, problem};
use super::{AppState, PageError, form_error as error};

pub async fn upload(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let id = EngagementId(id);
    let upload = match crate::actions::read_upload(&mut form).await {
        Ok(u) => u,
        Err(why) => {
            let message = format!("File: {why}");
            return delivery_page(
                &s,
                &who,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![error("document-file", message)],
                None,
            )
            .await;
        }
    };
    who.check(upload.field("csrf"))?;
    let version = upload.field("version").to_string();
    let title = upload.field("title").to_string();
    let file = upload.file;
    let refuse = async |field: &str, message: String| {
        delivery_page(
            &s,
            &who,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![error(field, message)],
            None,
        )
        .await
    };
    let Some((raw_name, bytes)) = file.filter(|(n, _)| !n.is_empty()) else {
        return refuse("document-file", "File: choose a file to upload".into()).await;
    };
    let version = match Version::from(version).get() {
        Ok(v) => v,
        Err(e) => return refuse("document-file", problem(&e).1).await,
    };
    let done = s
        .actions()
        .upload(&who.actor, id, version, &title, &raw_name, bytes)
        .await;
    if let Err(StoreError::Domain(DomainError::Invalid {
        field: "file",
        message,
    })) = &done
    {
        return refuse("document-file", format!("File: {message}")).await;
    }
    match outcome_to_page(done)? {
        Ok(_) => Ok(Redirect::to(&format!("/engagements/{id}/delivery#documents")).into_response()),
        Err((field, message)) => {
            let field = if field == "action" {
                "document-file".to_string()
            } else {
                format!("document-{field}")
            };
            refuse(&field, message).await
        }
    }
}

pub async fn file(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (row, bytes) = s.store.file(&who.actor, id).await?;
    // Only PDFs and images open in the browser; everything else downloads.
    let inline = row.content_type == "application/pdf" || row.content_type.starts_with("image/");
    Ok(download(bytes, &row.content_type, &row.name, inline))
}
