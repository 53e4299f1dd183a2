//! Webhooks' rules: who may subscribe and to which event types; which
//! events reach which subscription (never more than its owner may see);
//! where a delivery may go (no loopback, private or link-local address
//! unless the operator allows its network); when a failed delivery is tried
//! again, and when a subscription is stopped and its owner told.
//!
//! No IO: the web layer resolves names and sends, and asks [`refused_address`]
//! about every address it would connect to; the store keeps subscriptions
//! and their queue, written in the same transaction as the event.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::enquiry::Triage;
use crate::{Access, Actor, DomainError, Engagement, Event, PersonId, Timestamp, check_line};

/// The longest target address.
pub const URL_MAX: usize = 2000;
/// The longest description.
pub const DESCRIPTION_MAX: usize = 200;
/// How many subscriptions one person may hold (disabled ones count).
pub const PER_OWNER_MAX: usize = 25;
/// How many event types one subscription may name.
pub const TYPES_MAX: usize = 64;

/// Every engagement event's type, as `engagement.<kind>` names it.
pub const ENGAGEMENT_KINDS: &[&str] = &[
    "started",
    "stage_entered",
    "stage_completed",
    "blueprint_recorded",
    "stage_exited",
    "step_set",
    "risk_raised",
    "risk_closed",
    "decided",
    "mode_changed",
    "success_checked",
    "benefit_added",
    "benefit_changed",
    "benefit_reading_recorded",
    "initiative_linked",
    "sponsor_set",
    "assigned",
    "unassigned",
    "discovery_planned",
    "owner_set",
    "signed_off",
    "workshop_scheduled",
    "workshop_cancelled",
    "workshop_notes_recorded",
    "workshop_answered",
    "artefact_saved",
    "letter_issued",
    "document_attached",
    "tailored",
    "migrated",
    "commented",
    "comment_edited",
    "comment_hidden",
    "lesson_recorded",
    "lesson_proposed",
    "lesson_answered",
];

/// Every enquiry event's type, as `enquiry.<kind>` names it.
pub const ENQUIRY_KINDS: &[&str] = &[
    "received",
    "sealed",
    "note",
    "converted",
    "attached",
    "closed",
    "mail_in",
    "replied",
];

/// What an event concerns, for deciding who may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About<'a> {
    /// An engagement, as it stands after the event.
    Engagement(&'a Engagement),
    /// An enquiry (only the programme sees them).
    Enquiry,
}

/// An engagement event's webhook type: `engagement.stage_entered`, …
pub fn engagement_type(event: &Event) -> String {
    format!("engagement.{}", event.kind())
}

/// An enquiry event's webhook type: `enquiry.received`, …
pub fn enquiry_type(event: &Triage) -> String {
    format!("enquiry.{}", event.kind())
}

/// Whether `pattern` (an event type, `engagement.*`, `enquiry.*` or `*`)
/// names `kind`.
pub fn matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

/// Every type a subscription may name, wildcards first.
pub fn known_types() -> Vec<String> {
    let mut all = vec![
        "*".to_string(),
        "engagement.*".to_string(),
        "enquiry.*".to_string(),
    ];
    all.extend(ENGAGEMENT_KINDS.iter().map(|k| format!("engagement.{k}")));
    all.extend(ENQUIRY_KINDS.iter().map(|k| format!("enquiry.{k}")));
    all
}

/// Whether `owner` may receive `event` through a subscription to `types`:
/// the subscription names its type, and the owner may see what it concerns
/// (an agency's people their own agency's engagements; the programme
/// everything). An owner who lost the right since subscribing receives
/// nothing more.
pub fn receives(owner: &Actor, types: &[String], kind: &str, about: About<'_>) -> bool {
    if !types.iter().any(|t| matches(t, kind)) || may_subscribe(owner).is_err() {
        return false;
    }
    match about {
        About::Engagement(e) => owner.access(e) != Access::None,
        About::Enquiry => crate::enquiry::may_see(owner),
    }
}

/// The programme and agencies' executive sponsors subscribe; partners and
/// other agency members do not.
pub fn may_subscribe(actor: &Actor) -> Result<(), DomainError> {
    let sponsor = actor
        .roles
        .iter()
        .any(|r| matches!(r, crate::Role::AgencyMember { sponsor: true, .. }));
    if actor.is_programme() || sponsor {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "subscribe to webhooks",
            why: "the programme team and agencies' executive sponsors subscribe",
        })
    }
}

/// Whether `actor` may see and change `owner`'s subscriptions: their own,
/// and everyone's for a programme admin.
pub fn may_manage(actor: &Actor, owner: PersonId) -> bool {
    actor.person == owner || actor.is_admin()
}

/// A subscription to make, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub url: String,
    pub types: Vec<String>,
    pub description: String,
}

impl NewSubscription {
    /// Checks the address (`http` or `https`, a host, no user name or
    /// password, no fragment; an address given as an IP must be allowed),
    /// the types (known, at least one; repeats dropped) and the description.
    pub fn parse(
        actor: &Actor,
        url: &str,
        types: &[String],
        description: &str,
        allowed: &[ipnet::IpNet],
    ) -> Result<Self, DomainError> {
        may_subscribe(actor)?;
        let url = check_url(url, allowed)?;
        let known = known_types();
        let mut kept: Vec<String> = Vec::new();
        for t in types {
            let t = t.trim();
            if t.is_empty() {
                continue;
            }
            if !known.iter().any(|k| k == t) {
                return Err(DomainError::invalid(
                    "events",
                    format!(
                        "{} is not an event type; GET /api/v1/webhook-event-types lists them",
                        quoted(t)
                    ),
                ));
            }
            if t.starts_with("enquiry.") || t == "*" {
                crate::enquiry::visible(actor).map_err(|_| {
                    DomainError::invalid(
                        "events",
                        "only the programme team receives enquiries' events",
                    )
                })?;
            }
            if !kept.iter().any(|k| k == t) {
                kept.push(t.to_string());
            }
        }
        if kept.is_empty() {
            return Err(DomainError::invalid(
                "events",
                "choose at least one event type",
            ));
        }
        if kept.len() > TYPES_MAX {
            return Err(DomainError::invalid(
                "events",
                format!("name at most {TYPES_MAX} event types (or use a wildcard)"),
            ));
        }
        let description = check_line("description", description, DESCRIPTION_MAX)?;
        Ok(NewSubscription {
            url,
            types: kept,
            description,
        })
    }
}

fn quoted(s: &str) -> String {
    let short: String = s.chars().take(60).collect();
    format!("{short:?}")
}

/// The target address, checked and normalised.
pub fn check_url(raw: &str, allowed: &[ipnet::IpNet]) -> Result<String, DomainError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(DomainError::invalid(
            "url",
            "give the address to deliver to",
        ));
    }
    if raw.len() > URL_MAX {
        return Err(DomainError::invalid(
            "url",
            format!("an address may be at most {URL_MAX} characters"),
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| {
        DomainError::invalid("url", format!("not an address ({e}); give https://…"))
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(DomainError::invalid(
            "url",
            "the address must start https:// or http://",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DomainError::invalid(
            "url",
            "the address may not carry a user name or password; the signature proves who sent it",
        ));
    }
    if url.fragment().is_some() {
        return Err(DomainError::invalid(
            "url",
            "the address may not have a #fragment",
        ));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") {
                Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            } else {
                None
            }
        }
        None => return Err(DomainError::invalid("url", "the address has no host")),
    };
    if let Some(ip) = ip
        && let Some(why) = refused_address(ip, allowed)
    {
        return Err(DomainError::invalid(
            "url",
            format!(
                "{} is {why}; deliveries go only to public addresses",
                url.host_str().unwrap_or("")
            ),
        ));
    }
    Ok(url.to_string())
}

/// Why a delivery may not connect to `ip`, if it may not: an address that
/// is not on the public internet (loopback, private, link-local, shared,
/// multicast, reserved, documentation), unless a network in `allowed` (the
/// operator's setting) holds it. IPv4 addresses inside IPv6 are judged as
/// IPv4.
pub fn refused_address(ip: IpAddr, allowed: &[ipnet::IpNet]) -> Option<&'static str> {
    if allowed.iter().any(|n| n.contains(&ip)) {
        return None;
    }
    match ip {
        IpAddr::V4(a) => refused_v4(a),
        IpAddr::V6(a) => {
            if let Some(v4) = embedded_v4(a) {
                if allowed.iter().any(|n| n.contains(&IpAddr::V4(v4))) {
                    return None;
                }
                return refused_v4(v4);
            }
            refused_v6(a)
        }
    }
}

fn refused_v4(a: Ipv4Addr) -> Option<&'static str> {
    let [o0, o1, o2, _] = a.octets();
    if a.is_loopback() {
        Some("a loopback address")
    } else if a.is_unspecified() || o0 == 0 {
        Some("not a host's address")
    } else if a.is_private() {
        Some("a private address")
    } else if a.is_link_local() {
        Some("a link-local address")
    } else if o0 == 100 && (64..128).contains(&o1) {
        Some("a shared (carrier-grade NAT) address")
    } else if a.is_multicast() || a.is_broadcast() || o0 >= 240 {
        Some("a multicast or reserved address")
    } else if a.is_documentation() || (o0 == 198 && (o1 == 18 || o1 == 19)) {
        Some("a documentation or benchmarking address")
    } else if o0 == 192 && o1 == 0 && o2 == 0 {
        Some("a protocol-assignment address")
    } else {
        None
    }
}

/// The IPv4 address an IPv6 one carries: mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let compatible = s[..6] == [0; 6] && !a.is_loopback() && !a.is_unspecified();
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4];
    (mapped || compatible || nat64).then_some(tail)
}

fn refused_v6(a: Ipv6Addr) -> Option<&'static str> {
    let s0 = a.segments()[0];
    if a.is_loopback() {
        Some("a loopback address")
    } else if a.is_unspecified() {
        Some("not a host's address")
    } else if s0 & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if s0 & 0xffc0 == 0xfe80 || s0 & 0xffc0 == 0xfec0 {
        Some("a link-local address")
    } else if a.is_multicast() {
        Some("a multicast address")
    } else if s0 == 0x2001 && a.segments()[1] == 0x0db8 {
        Some("a documentation address")
    } else if s0 & 0xe000 != 0x2000 {
        // Only 2000::/3 is handed out on the internet.
        Some("a reserved address")
    } else {
        None
    }
}

/// How long after the n-th failed attempt the next one is made (the
/// schedule Standard Webhooks senders commonly use): 5 s, 5 min, 30 min,
/// 2 h, 5 h, 10 h, 10 h. `None` after the last: the delivery has failed.
pub fn retry_after(failed_attempts: i64) -> Option<i64> {
    const SCHEDULE: [i64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];
    usize::try_from(failed_attempts - 1)
        .ok()
        .and_then(|i| SCHEDULE.get(i).copied())
}

/// How many attempts a delivery gets.
pub const ATTEMPTS: i64 = 8;

/// A subscription is stopped when one of its deliveries has failed every
/// attempt (more than a day of failures) and nothing reached the target
/// since that delivery was queued: the target is gone, not hiccupping.
pub fn should_disable(delivery_queued: Timestamp, last_success: Option<Timestamp>) -> bool {
    last_success.is_none_or(|s| s < delivery_queued)
}

/// Whether a response status counts as delivered: any 2xx. Redirects are
/// not followed (they could lead anywhere) and count as failures.
pub fn delivered(status: u16) -> bool {
    (200..300).contains(&status)
}

/// A subscription as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = WebhookSubscription))]
pub struct Subscription {
    pub id: i64,
    pub owner: PersonId,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub created_at: Timestamp,
    pub enabled: bool,
    /// Why it was stopped, when it was.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<Timestamp>,
    /// The last time a delivery reached it.
    pub last_success_at: Option<Timestamp>,
}
