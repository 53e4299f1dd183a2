//! The adopter directory: which agencies chose to be listed. How far each
//! has come is `waymark_core::adopters::standing` over its engagements,
//! read here and judged there.

use sqlx::Row;
use waymark_core::adopters::{self, Listing};
use waymark_core::{Actor, Agency, AgencyId, Engagement};

use crate::*;

/// A listed agency: its entry and its engagements as they stand.
#[derive(Debug, Clone)]
pub struct Adopter {
    pub agency: Agency,
    pub listing: Listing,
    pub listed_at: Timestamp,
    pub engagements: Vec<Engagement>,
}

impl Store {
    /// Lists `agency` in the directory (or changes what it shows).
    pub async fn list_adopter(
        &self,
        actor: &Actor,
        agency: AgencyId,
        listing: &Listing,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        adopters::may_list(actor, agency)?;
        sqlx::query(
            "INSERT INTO adopters (agency_id, contact, case_study, listed_by, listed_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (agency_id) DO UPDATE SET contact = excluded.contact, case_study = excluded.case_study",
        )
        .bind(agency.0)
        .bind(&listing.contact)
        .bind(&listing.case_study)
        .bind(actor.person.0)
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::foreign(e, "agency", &agency.to_string()))?;
        Ok(())
    }

    /// Takes `agency` out of the directory at once.
    pub async fn unlist_adopter(&self, actor: &Actor, agency: AgencyId) -> Result<(), StoreError> {
        adopters::may_list(actor, agency)?;
        sqlx::query("DELETE FROM adopters WHERE agency_id = $1")
            .bind(agency.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What `agency` shows in the directory, if it is listed.
    pub async fn adopter_listing(&self, agency: AgencyId) -> Result<Option<Listing>, StoreError> {
        let row = sqlx::query("SELECT contact, case_study FROM adopters WHERE agency_id = $1")
            .bind(agency.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Listing {
                contact: r.try_get("contact")?,
                case_study: r.try_get("case_study")?,
            })
        })
        .transpose()
    }

    /// Every listed agency, by name, with its engagements.
    pub async fn adopters(&self) -> Result<Vec<Adopter>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.name, a.abbreviation, a.portfolio, a.agency_type, d.contact, d.case_study, d.listed_at \
             FROM adopters d JOIN agencies a ON a.id = d.agency_id ORDER BY a.name, a.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let agency = crate::directory::agency_row(r)?;
            let states: Vec<String> = sqlx::query_scalar(
                "SELECT state FROM engagements WHERE agency_id = $1 ORDER BY id",
            )
            .bind(agency.id.0)
            .fetch_all(&self.pool)
            .await?;
            let engagements = states
                .iter()
                .map(|s| unjson::<Engagement>(s))
                .collect::<Result<_, _>>()?;
            out.push(Adopter {
                agency,
                listing: Listing {
                    contact: r.try_get("contact")?,
                    case_study: r.try_get("case_study")?,
                },
                listed_at: Timestamp(r.try_get("listed_at")?),
                engagements,
            });
        }
        Ok(out)
    }
}
