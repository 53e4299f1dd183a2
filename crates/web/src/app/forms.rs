//! Workspace forms to core commands. Every form posts to the engagement's
//! own address with the command's name, the version the page showed, the
//! session's form token, and the command's fields; this module only
//! translates (text, numbers, choices), and the core judges the result.

use serde::Deserialize;
use waymark_core::{
    Command, DecisionAt, DomainError, Funder, Item, PartnerKind, PersonId, StepStatus,
};

/// The version of the record a form was shown at (its hidden `version`
/// field). Every form reads it through `get`: one reading, and one answer to
/// a missing or bad value.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct Version(String);

impl Version {
    pub fn get(&self) -> Result<u64, DomainError> {
        number(
            "version",
            &self.0,
            "the page did not say which version it showed; reload it",
        )
    }
}

impl From<String> for Version {
    fn from(raw: String) -> Self {
        Version(raw)
    }
}

/// Everything any workspace form may send. Unused fields stay empty.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct CommandForm {
    pub csrf: String,
    /// The version of the engagement the page showed.
    pub version: Version,
    /// Which form on the page sent this, to put errors beside it.
    pub form: String,
    pub command: String,
    pub stage: String,
    pub step: String,
    pub status: String,
    pub reason: String,
    /// "exit", or the decision point's index.
    pub at: String,
    pub option: String,
    pub rationale: String,
    pub funded_by: String,
    pub note: String,
    pub criterion: String,
    pub evidence: String,
    pub text: String,
    pub id: String,
    pub measure: String,
    pub name: String,
    pub description: String,
    pub person: String,
    pub partner: String,
    pub weeks: String,
    /// What `set_owner` is about: `step` (with `stage`, `step`) or `risk`
    /// (with `id`).
    pub item: String,
    pub owner: String,
    pub due: String,
    /// What a comment is about: an anchor's key (`step:discovery:2`).
    pub about: String,
    /// A comment's words.
    pub body: String,
    /// A benefit's plan: what it counts, from where to where by when.
    pub unit: String,
    pub baseline: String,
    pub baseline_date: String,
    pub target: String,
    pub target_date: String,
    /// A benefit's reading, and its date.
    pub value: String,
    pub date: String,
}

fn invalid(field: &'static str, message: &str) -> DomainError {
    DomainError::Invalid {
        field,
        message: message.to_string(),
    }
}

fn number<T: std::str::FromStr>(
    field: &'static str,
    raw: &str,
    what: &str,
) -> Result<T, DomainError> {
    raw.trim().parse().map_err(|_| invalid(field, what))
}

fn optional(raw: &str) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl CommandForm {
    pub fn version(&self) -> Result<u64, DomainError> {
        self.version.get()
    }

    /// The command this form describes, or every problem with it at once:
    /// each choice or number that cannot be read, and each text the core's
    /// one rule per field refuses (`Command::text_problems`). A field that
    /// cannot be read is given a stand-in so the rest can still be checked;
    /// the stand-in command is never run.
    pub fn command_all(&self) -> Result<Command, Vec<DomainError>> {
        let mut problems: Vec<DomainError> = Vec::new();
        let mut probe = self.clone();
        let cmd = loop {
            match probe.command() {
                Ok(cmd) => break Some(cmd),
                Err(e) => {
                    let field = match &e {
                        DomainError::Invalid { field, .. } => *field,
                        _ => "",
                    };
                    problems.push(e);
                    if !probe.stand_in(field) {
                        break None;
                    }
                }
            }
        };
        if let Some(cmd) = &cmd {
            problems.extend(cmd.text_problems());
        }
        match cmd {
            Some(cmd) if problems.is_empty() => Ok(cmd),
            _ => Err(problems),
        }
    }

    /// Puts a readable value in `field`, so that the others can be checked;
    /// `false` when it is not a field a stand-in can fill.
    fn stand_in(&mut self, field: &str) -> bool {
        let (slot, value) = match field {
            "option" => (&mut self.option, "0"),
            "criterion" => (&mut self.criterion, "0"),
            "at" => (&mut self.at, "0"),
            "funded_by" => (&mut self.funded_by, "dta"),
            "status" => (&mut self.status, "todo"),
            "step" => (&mut self.step, "1"),
            "id" => (&mut self.id, "1"),
            "person" => (&mut self.person, "0"),
            "partner" => (&mut self.partner, "none"),
            "weeks" => (&mut self.weeks, "1"),
            "owner" => (&mut self.owner, ""),
            "item" => (&mut self.item, "step"),
            _ => return false,
        };
        if slot == value {
            return false;
        }
        *slot = value.to_string();
        true
    }

    /// The command this form describes; field errors name the field.
    pub fn command(&self) -> Result<Command, DomainError> {
        let stage = || self.stage.as_str().into();
        let step = || number::<u32>("step", &self.step, "choose a step");
        Ok(match self.command.as_str() {
            "start_stage" => Command::StartStage { stage: stage() },
            "complete_stage" => Command::CompleteStage { stage: stage() },
            "set_step" => Command::SetStep {
                stage: stage(),
                step: step()?,
                status: match self.status.as_str() {
                    "todo" => StepStatus::Todo,
                    "in_progress" => StepStatus::InProgress,
                    "done" => StepStatus::Done,
                    _ => return Err(invalid("status", "choose to do, in progress or done")),
                },
            },
            "skip_step" => Command::SkipStep {
                stage: stage(),
                step: step()?,
                reason: self.reason.as_str().into(),
            },
            "decide" => Command::Decide {
                stage: stage(),
                at: if self.at == "exit" {
                    DecisionAt::Exit
                } else {
                    DecisionAt::Point {
                        index: number(
                            "at",
                            &self.at,
                            "the form did not say which decision this is",
                        )?,
                    }
                },
                option: number("option", &self.option, "choose one of the options")?,
                rationale: self.rationale.as_str().into(),
                funded_by: match self.funded_by.as_str() {
                    "dta" => Funder::Dta,
                    "co_funded" => Funder::CoFunded,
                    "agency" => Funder::Agency,
                    _ => return Err(invalid("funded_by", "choose who funds what follows")),
                },
                note: optional(&self.note).map(Into::into),
            },
            "check_success" => Command::CheckSuccess {
                stage: stage(),
                criterion: number("criterion", &self.criterion, "choose a success criterion")?,
                evidence: self.evidence.as_str().into(),
            },
            "add_risk" => Command::AddRisk {
                text: self.text.as_str().into(),
                stage: optional(&self.stage).map(Into::into),
            },
            "close_risk" => Command::CloseRisk {
                id: number("id", &self.id, "choose a risk")?,
                note: self.note.as_str().into(),
            },
            "add_benefit" => Command::AddBenefit {
                text: self.text.as_str().into(),
                measure: optional(&self.measure).map(Into::into),
                plan: self.plan()?,
            },
            "change_benefit" => Command::ChangeBenefit {
                id: number("id", &self.id, "choose a benefit")?,
                text: self.text.as_str().into(),
                measure: optional(&self.measure).map(Into::into),
                plan: self.plan()?,
            },
            "record_reading" => Command::RecordReading {
                id: number("id", &self.id, "choose a benefit")?,
                value: self.value.as_str().into(),
                date: self.date.as_str().into(),
                note: optional(&self.note).map(Into::into),
            },
            "adopt_benefits" => Command::AdoptBenefits { stage: stage() },
            "link_initiative" => Command::LinkInitiative {
                name: self.name.as_str().into(),
                description: self.description.as_str().into(),
            },
            "set_sponsor" => Command::SetSponsor {
                person: PersonId(number(
                    "person",
                    &self.person,
                    "choose the executive sponsor",
                )?),
            },
            "assign" => Command::Assign {
                person: PersonId(number("person", &self.person, "choose a person to assign")?),
                partner: match self.partner.as_str() {
                    "" | "none" => None,
                    "strategy" => Some(PartnerKind::Strategy),
                    "technology" => Some(PartnerKind::Technology),
                    "change_management" => Some(PartnerKind::ChangeManagement),
                    _ => return Err(invalid("partner", "choose the kind of partner")),
                },
            },
            "unassign" => Command::Unassign {
                person: PersonId(number("person", &self.person, "choose a person")?),
            },
            "plan_discovery" => Command::PlanDiscovery {
                weeks: number(
                    "weeks",
                    &self.weeks,
                    "give the planned length in whole weeks",
                )?,
            },
            "return_to_programme" => Command::ReturnToProgramme,
            "comment" => Command::Comment {
                about: waymark_core::discussion::Anchor::parse_key(&self.about).ok_or_else(
                    || invalid("about", "choose what the comment is about from the list"),
                )?,
                body: self.body.as_str().into(),
            },
            "edit_comment" => Command::EditComment {
                id: number("id", &self.id, "choose a comment")?,
                body: self.body.as_str().into(),
            },
            "hide_comment" => Command::HideComment {
                id: number("id", &self.id, "choose a comment")?,
                reason: self.reason.as_str().into(),
            },
            "set_owner" => Command::SetOwner {
                item: match self.item.as_str() {
                    "step" => Item::Step {
                        stage: self.stage.clone(),
                        step: step()?,
                    },
                    "risk" => Item::Risk {
                        id: number("id", &self.id, "choose a risk")?,
                    },
                    _ => {
                        return Err(invalid(
                            "item",
                            "the form did not say what it is about; reload the page",
                        ));
                    }
                },
                owner: self.owner()?,
                due: optional(&self.due).map(Into::into),
            },
            _ => {
                return Err(invalid(
                    "command",
                    "this form sent no command Waymark knows; reload the page",
                ));
            }
        })
    }

    /// A benefit's plan as typed; the core reads the values and dates.
    fn plan(&self) -> Result<waymark_core::benefit::PlanInput, DomainError> {
        Ok(waymark_core::benefit::PlanInput {
            unit: optional(&self.unit).map(Into::into),
            baseline: optional(&self.baseline).map(Into::into),
            baseline_date: optional(&self.baseline_date).map(Into::into),
            target: optional(&self.target).map(Into::into),
            target_date: optional(&self.target_date).map(Into::into),
            owner: self.owner()?,
        })
    }

    /// The person chosen as owner (a step's, a risk's, a benefit's), if any.
    fn owner(&self) -> Result<Option<PersonId>, DomainError> {
        match self.owner.trim() {
            "" => Ok(None),
            raw => Ok(Some(PersonId(number(
                "owner",
                raw,
                "choose someone from the list",
            )?))),
        }
    }

    /// The free text the person typed, to show again if it was not saved.
    pub fn typed(&self) -> Vec<(&'static str, &str)> {
        [
            ("Reason", self.reason.as_str()),
            ("Rationale", &self.rationale),
            ("Note", &self.note),
            ("Evidence", &self.evidence),
            ("Text", &self.text),
            ("Measure", &self.measure),
            ("Name", &self.name),
            ("Description", &self.description),
            ("Comment", &self.body),
            ("Unit", &self.unit),
            ("Baseline", &self.baseline),
            ("Target", &self.target),
            ("Reading", &self.value),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> CommandForm {
        let map: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), serde_json::Value::from(*v)))
            .collect();
        serde_json::from_value(serde_json::Value::Object(map)).unwrap()
    }

    #[test]
    fn forms_become_commands() {
        let c = form(&[
            ("command", "decide"),
            ("stage", "engagement"),
            ("at", "0"),
            ("option", "1"),
            ("rationale", "Because"),
            ("funded_by", "co_funded"),
            ("note", "  "),
        ])
        .command()
        .unwrap();
        assert_eq!(
            c,
            Command::Decide {
                stage: "engagement".into(),
                at: DecisionAt::Point { index: 0 },
                option: 1,
                rationale: "Because".into(),
                funded_by: Funder::CoFunded,
                note: None,
            }
        );
        let exit = form(&[
            ("command", "decide"),
            ("at", "exit"),
            ("option", "2"),
            ("funded_by", "dta"),
        ]);
        assert!(matches!(
            exit.command().unwrap(),
            Command::Decide {
                at: DecisionAt::Exit,
                option: 2,
                ..
            }
        ));
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |pairs: &[(&str, &str)]| match form(pairs).command() {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(&[("command", "set_step"), ("step", "x"), ("status", "done")]),
            "step"
        );
        assert_eq!(
            field(&[
                ("command", "set_step"),
                ("step", "1"),
                ("status", "finished")
            ]),
            "status"
        );
        assert_eq!(
            field(&[
                ("command", "decide"),
                ("at", "0"),
                ("option", ""),
                ("funded_by", "dta")
            ]),
            "option"
        );
        assert_eq!(
            field(&[
                ("command", "decide"),
                ("at", "0"),
                ("option", "0"),
                ("funded_by", "")
            ]),
            "funded_by"
        );
        assert_eq!(field(&[("command", "drop_tables")]), "command");
        assert_eq!(
            form(&[("version", "x")]).version().unwrap_err(),
            invalid(
                "version",
                "the page did not say which version it showed; reload it"
            )
        );
    }

    #[test]
    fn every_problem_of_a_form_is_found_at_once() {
        let problems = form(&[
            ("command", "decide"),
            ("stage", "engagement"),
            ("at", "0"),
            ("option", ""),
            ("funded_by", ""),
            ("rationale", "  "),
        ])
        .command_all()
        .unwrap_err();
        let fields: Vec<&str> = problems
            .iter()
            .map(|p| match p {
                DomainError::Invalid { field, .. } => *field,
                _ => "?",
            })
            .collect();
        assert_eq!(fields, ["option", "funded_by", "rationale"]);
        assert!(
            form(&[("command", "add_risk"), ("text", "Budget")])
                .command_all()
                .is_ok()
        );
        assert_eq!(
            form(&[("command", "drop_tables")])
                .command_all()
                .unwrap_err()
                .len(),
            1
        );
    }
}
