//! The deterministic data set that both simulators serve.
//!
//! One list of people is generated from a seed. Each person exists in Casebook, in GHL or
//! in both, and the generator records how the gateway is expected to link the two halves,
//! so tests can pick records by the case they cover.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

/// Default number of people in the data set.
pub const DEFAULT_PEOPLE: usize = 240;
/// Default seed.
pub const DEFAULT_SEED: u64 = 42;
/// Location id of the seeded GHL sub-account.
pub const GHL_LOCATION_ID: &str = "SimLocation000000001";
/// Company (agency) id that the seeded GHL sub-account belongs to.
pub const GHL_COMPANY_ID: &str = "SimCompany0000000001";
/// GHL calendars that seeded appointments belong to.
pub const GHL_CALENDAR_IDS: [&str; 2] = ["SimCalendarIntake001", "SimCalendarFollowup1"];
/// GHL businesses that some seeded contacts belong to.
pub const GHL_BUSINESS_IDS: [&str; 3] = [
    "SimBusinessFoodBank1",
    "SimBusinessShelter01",
    "SimBusinessClinic001",
];

/// Where a person's records exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Both,
    CasebookOnly,
    GhlOnly,
}

/// How the Casebook and GHL halves of a person relate, which decides the expected link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchCase {
    /// Same e-mail, written the same way on both sides.
    SameEmail,
    /// Same e-mail, with different case or surrounding spaces in Casebook.
    EmailWrittenDifferently,
    /// No shared e-mail; the phone is `(555) 010-2345` in Casebook and `+15550102345` in GHL.
    PhoneWrittenDifferently,
    /// The person shares an e-mail with another Casebook person, so no link is safe.
    Ambiguous,
    /// The person exists on one side only.
    OneSided,
}

/// A seeded person, with both halves and their children.
#[derive(Debug, Clone)]
pub struct SeedPerson {
    pub index: usize,
    pub first_name: String,
    pub last_name: String,
    pub presence: Presence,
    pub match_case: MatchCase,
    pub casebook: Option<CasebookPersonSeed>,
    pub ghl: Option<GhlContactSeed>,
}

impl SeedPerson {
    /// Whether the gateway is expected to link the two halves automatically.
    pub fn expect_linked(&self) -> bool {
        self.presence == Presence::Both && self.match_case != MatchCase::Ambiguous
    }
}

/// A person record in Casebook.
#[derive(Debug, Clone)]
pub struct CasebookPersonSeed {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tasks: Vec<CasebookTaskSeed>,
    /// Notes of every type, including the Meeting notes that stand in for appointments.
    pub notes: Vec<CasebookNoteSeed>,
}

#[derive(Debug, Clone)]
pub struct CasebookTaskSeed {
    pub id: String,
    pub title: String,
    pub description: String,
    pub due_at: DateTime<Utc>,
    pub completed: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct CasebookNoteSeed {
    pub id: String,
    pub subject: String,
    pub body: String,
    /// One of `names::NOTE_TYPES` or `names::APPOINTMENT_NOTE_TYPE`.
    pub note_type: String,
    pub occurred_at: Option<DateTime<Utc>>,
    /// Set on Meeting notes only.
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A contact in GHL.
#[derive(Debug, Clone)]
pub struct GhlContactSeed {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    /// E.164, as GHL stores phones.
    pub phone: Option<String>,
    pub tags: Vec<String>,
    pub business_id: Option<String>,
    pub company_name: Option<String>,
    pub source: String,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
    pub tasks: Vec<GhlTaskSeed>,
    pub notes: Vec<GhlNoteSeed>,
    pub appointments: Vec<GhlAppointmentSeed>,
}

#[derive(Debug, Clone)]
pub struct GhlTaskSeed {
    pub id: String,
    pub title: String,
    pub body: String,
    pub due_date: DateTime<Utc>,
    pub completed: bool,
    pub date_added: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct GhlNoteSeed {
    pub id: String,
    pub body: String,
    pub date_added: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct GhlAppointmentSeed {
    pub id: String,
    pub calendar_id: String,
    pub title: String,
    pub status: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub date_added: DateTime<Utc>,
}

/// The whole seeded data set.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub seed: u64,
    /// The latest timestamp in the data set; children spread over the two years before it.
    pub anchor: DateTime<Utc>,
    pub people: Vec<SeedPerson>,
}

const FIRST_NAMES: [&str; 24] = [
    "Ada", "Bilal", "Carmen", "Dmitri", "Esther", "Farid", "Grace", "Hiro", "Ines", "Jamal",
    "Keiko", "Luis", "Maya", "Nnamdi", "Olga", "Priya", "Quinn", "Rosa", "Samir", "Tessa", "Umar",
    "Vera", "Wen", "Yusuf",
];
const LAST_NAMES: [&str; 20] = [
    "Abbott",
    "Baptiste",
    "Chen",
    "Duarte",
    "Eriksen",
    "Fofana",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Mensah",
    "Novak",
    "Okafor",
    "Park",
    "Quispe",
    "Rossi",
    "Singh",
    "Torres",
];
const TASK_TITLES: [&str; 6] = [
    "Call back about housing application",
    "Collect proof of income",
    "Schedule benefits review",
    "Send intake packet",
    "Confirm childcare placement",
    "Follow up on food assistance",
];
const NOTE_SUBJECTS: [&str; 5] = [
    "Intake conversation",
    "Service delivered",
    "Phone check-in",
    "Progress review",
    "E-mail exchange",
];
const TAGS: [&str; 6] = [
    "newsletter",
    "housing",
    "food-assistance",
    "volunteer",
    "donor",
    "referral",
];

impl Dataset {
    /// Generates the data set for `seed` with `people` people (at least 10).
    pub fn generate(seed: u64, people: usize) -> Dataset {
        let people = people.max(10);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let anchor = Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap();
        let mut generated = Vec::with_capacity(people);
        let mut pending_shared: Vec<(usize, String)> = Vec::new();

        for index in 0..people {
            let first_name = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())].to_string();
            let last_name = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())].to_string();
            let email = format!(
                "{}.{}.{index}@example.org",
                first_name.to_lowercase(),
                last_name.to_lowercase()
            );
            // 555-01XX-style fictional numbers, unique per person.
            let national = format!("555{:07}", 100_000 + index * 37);
            let e164 = format!("+1{national}");

            // About 70% in both systems, 15% Casebook only, 15% GHL only.
            let roll = index % 20;
            let presence = match roll {
                0..=13 => Presence::Both,
                14..=16 => Presence::CasebookOnly,
                _ => Presence::GhlOnly,
            };
            let match_case = match presence {
                Presence::Both => match index % 7 {
                    0 | 3 => MatchCase::EmailWrittenDifferently,
                    1 | 4 => MatchCase::PhoneWrittenDifferently,
                    6 if index % 3 == 0 => MatchCase::Ambiguous,
                    _ => MatchCase::SameEmail,
                },
                _ => MatchCase::OneSided,
            };

            let casebook_email = match match_case {
                MatchCase::SameEmail => Some(email.clone()),
                MatchCase::EmailWrittenDifferently => Some(written_differently(&email, index)),
                MatchCase::PhoneWrittenDifferently => None,
                MatchCase::Ambiguous => Some(email.clone()),
                MatchCase::OneSided => Some(email.clone()),
            };
            let ghl_email = match match_case {
                MatchCase::PhoneWrittenDifferently => Some(format!(
                    "{}{index}@mail.example.net",
                    first_name.to_lowercase()
                )),
                _ => Some(email.clone()),
            };
            let casebook_phone = match match_case {
                MatchCase::PhoneWrittenDifferently | MatchCase::OneSided => {
                    Some(format_national(&national, index))
                }
                // Ambiguous people carry no phone, so only the shared e-mail decides.
                MatchCase::Ambiguous => None,
                _ if index % 2 == 0 => Some(format_national(&national, index)),
                _ => None,
            };
            let ghl_phone = match match_case {
                MatchCase::Ambiguous => None,
                _ => Some(e164.clone()),
            };

            let created_at =
                anchor - Duration::days(730) + Duration::hours(rng.gen_range(0..24 * 30));
            let casebook = (presence != Presence::GhlOnly).then(|| CasebookPersonSeed {
                id: uuid_from(&mut rng),
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                email: casebook_email,
                phone: casebook_phone,
                date_of_birth: format!(
                    "{}-{:02}-{:02}",
                    rng.gen_range(1950..2008),
                    rng.gen_range(1..=12),
                    rng.gen_range(1..=28)
                ),
                created_at,
                updated_at: created_at + Duration::days(rng.gen_range(0..700)),
                tasks: casebook_tasks(&mut rng, anchor),
                notes: casebook_notes(&mut rng, anchor),
            });
            let ghl = (presence != Presence::CasebookOnly).then(|| {
                let tag_count = rng.gen_range(0..3);
                let mut tags: Vec<String> = TAGS
                    .choose_multiple(&mut rng, tag_count)
                    .map(|tag| tag.to_string())
                    .collect();
                tags.sort();
                let business = (index % 11 == 0).then(|| GHL_BUSINESS_IDS[index % 3]);
                GhlContactSeed {
                    id: ghl_id(&mut rng),
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    email: ghl_email,
                    phone: ghl_phone,
                    tags,
                    business_id: business.map(str::to_string),
                    company_name: business
                        .map(|id| id.trim_start_matches("SimBusiness").to_string()),
                    source: "gateway-seed".to_string(),
                    date_added: created_at + Duration::minutes(rng.gen_range(1..600)),
                    date_updated: created_at + Duration::days(rng.gen_range(1..700)),
                    tasks: ghl_tasks(&mut rng, anchor),
                    notes: ghl_notes(&mut rng, anchor),
                    appointments: ghl_appointments(&mut rng, anchor),
                }
            });

            generated.push(SeedPerson {
                index,
                first_name,
                last_name,
                presence,
                match_case,
                casebook,
                ghl,
            });

            // An ambiguous person gets a later Casebook-only household member with the
            // same e-mail, so that e-mail has two Casebook candidates.
            let current = generated.len() - 1;
            if match_case == MatchCase::Ambiguous {
                pending_shared.push((current, email.clone()));
            } else if presence == Presence::CasebookOnly && !pending_shared.is_empty() {
                let (_, shared) = pending_shared.remove(0);
                let member = &mut generated[current];
                if let Some(person) = member.casebook.as_mut() {
                    person.email = Some(shared);
                }
                member.match_case = MatchCase::Ambiguous;
            }
        }

        // An ambiguous person left without a household member is an ordinary match.
        for (index, _) in pending_shared {
            generated[index].match_case = MatchCase::SameEmail;
        }

        Dataset {
            seed,
            anchor,
            people: generated,
        }
    }

    /// People whose records exist in both systems and are expected to be linked.
    pub fn linked(&self) -> impl Iterator<Item = &SeedPerson> {
        self.people.iter().filter(|p| p.expect_linked())
    }

    /// The person with this Casebook person id.
    pub fn by_casebook_id(&self, id: &str) -> Option<&SeedPerson> {
        self.people
            .iter()
            .find(|p| p.casebook.as_ref().is_some_and(|c| c.id == id))
    }

    /// The person with this GHL contact id.
    pub fn by_ghl_id(&self, id: &str) -> Option<&SeedPerson> {
        self.people
            .iter()
            .find(|p| p.ghl.as_ref().is_some_and(|g| g.id == id))
    }
}

impl Default for Dataset {
    fn default() -> Self {
        Dataset::generate(DEFAULT_SEED, DEFAULT_PEOPLE)
    }
}

/// Writes an e-mail with different case, or with surrounding spaces, as hand-entered data is.
fn written_differently(email: &str, index: usize) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    if index.is_multiple_of(2) {
        let mut chars = local.chars();
        let capitalised: String = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        format!("{capitalised}@{}", domain.to_uppercase())
    } else {
        format!(" {email} ")
    }
}

/// Writes a ten-digit NANP number in one of the national formats people type.
fn format_national(national: &str, index: usize) -> String {
    let (area, rest) = national.split_at(3);
    let (exchange, line) = rest.split_at(3);
    match index % 3 {
        0 => format!("({area}) {exchange}-{line}"),
        1 => format!("{area}-{exchange}-{line}"),
        _ => format!("{area}.{exchange}.{line}"),
    }
}

fn uuid_from(rng: &mut ChaCha8Rng) -> String {
    let bytes: [u8; 16] = rng.r#gen();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A 20-character alphanumeric id, the shape GHL uses.
fn ghl_id(rng: &mut ChaCha8Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A moment in the two years before `anchor`, on a whole minute.
fn moment(rng: &mut ChaCha8Rng, anchor: DateTime<Utc>) -> DateTime<Utc> {
    anchor - Duration::minutes(rng.gen_range(0..730 * 24 * 60))
}

fn casebook_tasks(rng: &mut ChaCha8Rng, anchor: DateTime<Utc>) -> Vec<CasebookTaskSeed> {
    (0..rng.gen_range(0..=3))
        .map(|_| {
            let created_at = moment(rng, anchor);
            CasebookTaskSeed {
                id: uuid_from(rng),
                title: TASK_TITLES[rng.gen_range(0..TASK_TITLES.len())].to_string(),
                description: "Opened by the case worker.".to_string(),
                due_at: created_at + Duration::days(rng.gen_range(1..30)),
                completed: rng.gen_bool(0.5),
                created_at,
            }
        })
        .collect()
}

fn casebook_notes(rng: &mut ChaCha8Rng, anchor: DateTime<Utc>) -> Vec<CasebookNoteSeed> {
    use crate::upstream::casebook::names::{APPOINTMENT_NOTE_TYPE, NOTE_TYPES};

    let mut notes: Vec<CasebookNoteSeed> = (0..rng.gen_range(0..=3))
        .map(|_| {
            let created_at = moment(rng, anchor);
            let note_type = NOTE_TYPES[rng.gen_range(0..NOTE_TYPES.len())];
            CasebookNoteSeed {
                id: uuid_from(rng),
                subject: NOTE_SUBJECTS[rng.gen_range(0..NOTE_SUBJECTS.len())].to_string(),
                body: "Discussed next steps and documents still needed.".to_string(),
                note_type: note_type.to_string(),
                occurred_at: (note_type != "General").then_some(created_at),
                ends_at: None,
                created_at,
            }
        })
        .collect();
    for _ in 0..rng.gen_range(0..=2) {
        let occurred_at = moment(rng, anchor);
        notes.push(CasebookNoteSeed {
            id: uuid_from(rng),
            subject: "Office meeting".to_string(),
            body: "Met in person to review the service plan.".to_string(),
            note_type: APPOINTMENT_NOTE_TYPE.to_string(),
            occurred_at: Some(occurred_at),
            ends_at: Some(occurred_at + Duration::minutes(45)),
            created_at: occurred_at - Duration::days(rng.gen_range(1..14)),
        });
    }
    notes
}

fn ghl_tasks(rng: &mut ChaCha8Rng, anchor: DateTime<Utc>) -> Vec<GhlTaskSeed> {
    (0..rng.gen_range(0..=3))
        .map(|_| {
            let date_added = moment(rng, anchor);
            GhlTaskSeed {
                id: ghl_id(rng),
                title: TASK_TITLES[rng.gen_range(0..TASK_TITLES.len())].to_string(),
                body: "Created from the CRM pipeline.".to_string(),
                due_date: date_added + Duration::days(rng.gen_range(1..30)),
                completed: rng.gen_bool(0.5),
                date_added,
            }
        })
        .collect()
}

fn ghl_notes(rng: &mut ChaCha8Rng, anchor: DateTime<Utc>) -> Vec<GhlNoteSeed> {
    (0..rng.gen_range(0..=3))
        .map(|_| GhlNoteSeed {
            id: ghl_id(rng),
            body: "Left a voicemail about the next event.".to_string(),
            date_added: moment(rng, anchor),
        })
        .collect()
}

fn ghl_appointments(rng: &mut ChaCha8Rng, anchor: DateTime<Utc>) -> Vec<GhlAppointmentSeed> {
    (0..rng.gen_range(0..=2))
        .map(|_| {
            let start_time = moment(rng, anchor);
            GhlAppointmentSeed {
                id: ghl_id(rng),
                calendar_id: GHL_CALENDAR_IDS[rng.gen_range(0..GHL_CALENDAR_IDS.len())].to_string(),
                title: "Eligibility consultation".to_string(),
                status: ["confirmed", "showed", "noshow", "cancelled"][rng.gen_range(0..4)]
                    .to_string(),
                start_time,
                end_time: start_time + Duration::minutes(30),
                date_added: start_time - Duration::days(rng.gen_range(1..21)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        let first = Dataset::generate(7, 50);
        let second = Dataset::generate(7, 50);
        let ids = |d: &Dataset| {
            d.people
                .iter()
                .map(|p| {
                    (
                        p.casebook.as_ref().map(|c| c.id.clone()),
                        p.ghl.as_ref().map(|g| g.id.clone()),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&first), ids(&second));
    }

    #[test]
    fn default_mix_matches_the_target_shares() {
        let data = Dataset::default();
        let count = |presence| {
            data.people
                .iter()
                .filter(|p| p.presence == presence)
                .count()
        };
        assert!(data.people.len() >= 200);
        assert_eq!(count(Presence::Both) * 100 / data.people.len(), 70);
        assert_eq!(count(Presence::CasebookOnly) * 100 / data.people.len(), 15);
        assert_eq!(count(Presence::GhlOnly) * 100 / data.people.len(), 15);
    }

    #[test]
    fn every_match_case_is_present() {
        let data = Dataset::default();
        for case in [
            MatchCase::SameEmail,
            MatchCase::EmailWrittenDifferently,
            MatchCase::PhoneWrittenDifferently,
            MatchCase::Ambiguous,
        ] {
            assert!(
                data.people
                    .iter()
                    .any(|p| p.match_case == case && p.presence == Presence::Both),
                "no linked-side person for {case:?}"
            );
        }
    }
}
