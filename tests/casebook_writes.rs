//! The Casebook client's writes against the Casebook simulator: every create, update
//! and delete round-trips, and the client's reads show what was written.
//!
//! Every test starts its own simulator on 127.0.0.1 with an OS-chosen port.

use casebook_ghl_gateway::sim::casebook::{self, CasebookSimOptions, DEFAULT_TOKEN, STATE_PATH};
use casebook_ghl_gateway::sim::common::RunningSim;
use casebook_ghl_gateway::sim::seed::{CasebookPersonSeed, Dataset};
use casebook_ghl_gateway::upstream::casebook::{
    CasebookClient, CasebookNoteInput, CasebookPersonInput, CasebookTaskInput, names,
};
use casebook_ghl_gateway::upstream::{HttpSettings, UpstreamError};
use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

/// A running simulator, a client of it and the data set it serves.
struct Harness {
    sim: RunningSim,
    client: CasebookClient,
    data: Dataset,
}

impl Harness {
    async fn start() -> Harness {
        let data = Dataset::default();
        let sim = casebook::start(
            "127.0.0.1:0".parse().unwrap(),
            &data,
            CasebookSimOptions::default(),
        )
        .await
        .expect("the simulator should bind a loopback port");
        let base = Url::parse(&sim.base_url).unwrap();
        let client = CasebookClient::new(
            base,
            SecretString::from(DEFAULT_TOKEN),
            &HttpSettings::default(),
        )
        .expect("the client should build");
        Harness { sim, client, data }
    }

    fn people(&self) -> Vec<&CasebookPersonSeed> {
        self.data
            .people
            .iter()
            .filter_map(|person| person.casebook.as_ref())
            .collect()
    }

    /// Reads the simulator's state listing, which needs no token.
    async fn state(&self) -> Value {
        reqwest::get(format!("{}{STATE_PATH}", self.sim.base_url))
            .await
            .expect("the state listing should answer")
            .json()
            .await
            .expect("the state listing should be JSON")
    }

    /// Counts the people in the state listing whose e-mail is `email`.
    async fn people_with_email(&self, email: &str) -> usize {
        self.state().await["people"]
            .as_array()
            .expect("people array")
            .iter()
            .filter(|entry| entry["person"]["attributes"]["email"] == email)
            .count()
    }
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a valid RFC 3339 time")
        .with_timezone(&Utc)
}

fn full_person(email: &str) -> CasebookPersonInput {
    CasebookPersonInput {
        first_name: Some("Grace".into()),
        last_name: Some("Hopper".into()),
        email: Some(email.into()),
        phone: Some("(555) 010-9999".into()),
        date_of_birth: Some("1906-12-09".into()),
        ..CasebookPersonInput::default()
    }
}

fn assert_rejected_at(err: &UpstreamError, pointer: &str) {
    match err {
        UpstreamError::Rejected {
            status, messages, ..
        } => {
            assert_eq!(*status, 422, "{err:?}");
            assert!(
                messages.iter().any(|message| message.starts_with(pointer)),
                "no message names {pointer}: {messages:?}"
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn person_round_trip() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let created = client
        .create_person(&full_person("grace@example.org"))
        .await
        .unwrap();
    assert_eq!(created.first_name.as_deref(), Some("Grace"));
    assert_eq!(created.date_of_birth.as_deref(), Some("1906-12-09"));
    assert!(created.created_at.is_some());

    let fetched = client.get_person(&created.id).await.unwrap();
    assert_eq!(fetched, created);
    let batch = client
        .people_by_ids(&[created.id.clone(), harness.people()[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0], created);
    let found = client.search_people(Some("Hopper"), 0, 10).await.unwrap();
    assert!(found.items.iter().any(|person| person.id == created.id));
    assert_eq!(harness.people_with_email("grace@example.org").await, 1);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn person_update_keeps_unsent_attributes() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let seeded = harness.people()[0].clone();
    let before = client.get_person(&seeded.id).await.unwrap();

    let change = CasebookPersonInput {
        phone: Some("(555) 010-0000".into()),
        ..CasebookPersonInput::default()
    };
    let updated = client.update_person(&seeded.id, &change).await.unwrap();
    assert_eq!(updated.phone.as_deref(), Some("(555) 010-0000"));
    assert_eq!(updated.first_name, before.first_name);
    assert_eq!(updated.last_name, before.last_name);
    assert_eq!(updated.email, before.email);
    assert_eq!(updated.date_of_birth, before.date_of_birth);
    assert_eq!(updated.created_at, before.created_at);
    assert!(updated.updated_at > before.updated_at);

    let fetched = client.get_person(&seeded.id).await.unwrap();
    assert_eq!(fetched, updated);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn person_delete_then_read_is_not_found() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let seeded = harness.people()[0].clone();
    assert!(!seeded.tasks.is_empty() || !seeded.notes.is_empty());

    client.delete_person(&seeded.id).await.unwrap();
    let err = client.get_person(&seeded.id).await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "person", id, .. } if *id == seeded.id),
        "{err:?}"
    );
    assert!(
        client
            .people_by_ids(std::slice::from_ref(&seeded.id))
            .await
            .unwrap()
            .is_empty()
    );
    let ids = [seeded.id.clone()];
    assert!(client.tasks_for_people(&ids).await.unwrap().is_empty());
    assert!(client.notes_for_people(&ids).await.unwrap().is_empty());

    let again = client.delete_person(&seeded.id).await.unwrap_err();
    assert!(matches!(again, UpstreamError::NotFound { .. }), "{again:?}");
    let update = client
        .update_person(&seeded.id, &full_person("x@example.org"))
        .await
        .unwrap_err();
    assert!(
        matches!(update, UpstreamError::NotFound { .. }),
        "{update:?}"
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn person_missing_required_is_rejected() {
    let harness = Harness::start().await;
    let input = CasebookPersonInput {
        first_name: Some("Only".into()),
        email: Some("only-first@example.org".into()),
        ..CasebookPersonInput::default()
    };
    let err = harness.client.create_person(&input).await.unwrap_err();
    assert_rejected_at(&err, "/data/attributes/last_name");
    assert_eq!(harness.people_with_email("only-first@example.org").await, 0);

    let bad_date = CasebookPersonInput {
        date_of_birth: Some("09/12/1906".into()),
        ..full_person("bad-date@example.org")
    };
    let err = harness.client.create_person(&bad_date).await.unwrap_err();
    assert_rejected_at(&err, "/data/attributes/date_of_birth");

    let blank = CasebookPersonInput {
        last_name: Some(" ".into()),
        ..CasebookPersonInput::default()
    };
    let seeded = harness.people()[0].id.clone();
    let err = harness
        .client
        .update_person(&seeded, &blank)
        .await
        .unwrap_err();
    assert_rejected_at(&err, "/data/attributes/last_name");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn people_by_email_finds_created_person() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let created = client
        .create_person(&full_person("Outcome.Unknown+1@example.org"))
        .await
        .unwrap();

    let found = client
        .people_by_email(&["Outcome.Unknown+1@example.org".to_string()])
        .await
        .unwrap();
    assert_eq!(found, vec![created.clone()]);
    let other_case = client
        .people_by_email(&["outcome.unknown+1@example.org".to_string()])
        .await
        .unwrap();
    assert!(other_case.is_empty(), "{other_case:?}");

    let seeded: Vec<String> = harness
        .people()
        .iter()
        .filter_map(|person| person.email.clone())
        .take(3)
        .collect();
    let mut emails = seeded.clone();
    emails.push("Outcome.Unknown+1@example.org".to_string());
    let found = client.people_by_email(&emails).await.unwrap();
    for email in &emails {
        assert!(
            found
                .iter()
                .any(|person| person.email.as_deref() == Some(email)),
            "{email} not found"
        );
    }
    assert!(
        found
            .iter()
            .all(|person| emails.contains(person.email.as_ref().unwrap()))
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn task_round_trip() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let owner = harness.people()[1].id.clone();
    let input = CasebookTaskInput {
        title: Some("Send the intake form".into()),
        description: Some("By post".into()),
        due_at: Some(time("2026-04-01T15:30:00.125Z")),
        completed: Some(false),
        person_id: Some(owner.clone()),
    };
    let created = client.create_task(&input).await.unwrap();
    assert_eq!(created.title.as_deref(), Some("Send the intake form"));
    assert_eq!(created.due_at, input.due_at);
    assert!(!created.completed);
    assert_eq!(created.completed_at, None);
    assert_eq!(created.person_id.as_deref(), Some(owner.as_str()));

    assert_eq!(client.get_task(&created.id).await.unwrap(), created);
    let listed = client
        .tasks_for_people(std::slice::from_ref(&owner))
        .await
        .unwrap();
    assert!(listed.contains(&created));

    let done = CasebookTaskInput {
        completed: Some(true),
        ..CasebookTaskInput::default()
    };
    let updated = client.update_task(&created.id, &done).await.unwrap();
    assert!(updated.completed);
    assert!(updated.completed_at.is_some());
    assert_eq!(updated.title, created.title);
    assert_eq!(updated.description, created.description);
    assert_eq!(updated.due_at, created.due_at);
    assert_eq!(updated.person_id, created.person_id);

    client.delete_task(&created.id).await.unwrap();
    let err = client.get_task(&created.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            UpstreamError::NotFound {
                resource: "task",
                ..
            }
        ),
        "{err:?}"
    );
    let listed = client
        .tasks_for_people(std::slice::from_ref(&owner))
        .await
        .unwrap();
    assert!(listed.iter().all(|task| task.id != created.id));
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn task_rejections() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let untitled = CasebookTaskInput {
        person_id: Some(harness.people()[0].id.clone()),
        ..CasebookTaskInput::default()
    };
    let err = client.create_task(&untitled).await.unwrap_err();
    assert_rejected_at(&err, "/data/attributes/title");

    let unknown_person = CasebookTaskInput {
        title: Some("Nobody".into()),
        person_id: Some("00000000-0000-4000-8000-000000000000".into()),
        ..CasebookTaskInput::default()
    };
    let err = client.create_task(&unknown_person).await.unwrap_err();
    assert_rejected_at(&err, "/data/relationships/person");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn note_and_appointment_round_trip() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let people: Vec<String> = harness.people()[..2].iter().map(|p| p.id.clone()).collect();

    let note = client
        .create_note(&CasebookNoteInput {
            subject: Some("Phone call".into()),
            body: Some("Discussed housing".into()),
            note_type: Some("Contact".into()),
            occurred_at: Some(time("2026-02-03T10:00:00Z")),
            ends_at: None,
            people_ids: Some(people.clone()),
        })
        .await
        .unwrap();
    assert_eq!(note.people_ids, people);
    let notes = client
        .notes_for_people(std::slice::from_ref(&people[1]))
        .await
        .unwrap();
    assert!(notes.contains(&note));

    let start = Utc.with_ymd_and_hms(2026, 5, 6, 14, 0, 0).unwrap();
    let meeting = client
        .create_note(&CasebookNoteInput {
            subject: Some("Intake meeting".into()),
            body: Some("At the office".into()),
            note_type: Some(names::APPOINTMENT_NOTE_TYPE.into()),
            occurred_at: Some(start),
            ends_at: Some(start + chrono::Duration::minutes(45)),
            people_ids: Some(vec![people[0].clone()]),
        })
        .await
        .unwrap();
    assert!(meeting.is_appointment());
    let appointments = client
        .appointments_for_people(std::slice::from_ref(&people[0]))
        .await
        .unwrap();
    assert!(appointments.contains(&meeting));
    assert!(
        !client
            .notes_for_people(std::slice::from_ref(&people[0]))
            .await
            .unwrap()
            .contains(&meeting)
    );

    let moved = client
        .update_note(
            &meeting.id,
            &CasebookNoteInput {
                ends_at: Some(start + chrono::Duration::minutes(90)),
                ..CasebookNoteInput::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.ends_at, Some(start + chrono::Duration::minutes(90)));
    assert_eq!(moved.occurred_at, meeting.occurred_at);
    assert_eq!(moved.subject, meeting.subject);
    assert_eq!(moved.people_ids, meeting.people_ids);
    assert_eq!(client.get_note(&meeting.id).await.unwrap(), moved);

    let relinked = client
        .update_note(
            &note.id,
            &CasebookNoteInput {
                people_ids: Some(vec![people[0].clone()]),
                ..CasebookNoteInput::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(relinked.people_ids, vec![people[0].clone()]);
    let second_notes = client
        .notes_for_people(std::slice::from_ref(&people[1]))
        .await
        .unwrap();
    assert!(second_notes.iter().all(|n| n.id != note.id));

    client.delete_note(&meeting.id).await.unwrap();
    let err = client.get_note(&meeting.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            UpstreamError::NotFound {
                resource: "note",
                ..
            }
        ),
        "{err:?}"
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn note_rejections() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let owner = harness.people()[0].id.clone();

    let err = client
        .create_note(&CasebookNoteInput {
            people_ids: Some(vec![owner.clone()]),
            ..CasebookNoteInput::default()
        })
        .await
        .unwrap_err();
    for attribute in ["subject", "body", "note_type"] {
        assert_rejected_at(&err, &format!("/data/attributes/{attribute}"));
    }

    let err = client
        .create_note(&CasebookNoteInput {
            subject: Some("Chat".into()),
            body: Some("Text".into()),
            note_type: Some("Chat".into()),
            ..CasebookNoteInput::default()
        })
        .await
        .unwrap_err();
    assert_rejected_at(&err, "/data/attributes/note_type");

    let start = time("2026-05-06T14:00:00Z");
    let err = client
        .create_note(&CasebookNoteInput {
            subject: Some("Backwards".into()),
            body: Some("Text".into()),
            note_type: Some(names::APPOINTMENT_NOTE_TYPE.into()),
            occurred_at: Some(start),
            ends_at: Some(start - chrono::Duration::minutes(5)),
            people_ids: Some(vec![owner]),
        })
        .await
        .unwrap_err();
    assert_rejected_at(&err, "/data/attributes/ends_at");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn deleting_a_person_keeps_shared_notes() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let first = client
        .create_person(&full_person("first@example.org"))
        .await
        .unwrap();
    let second = client
        .create_person(&full_person("second@example.org"))
        .await
        .unwrap();
    let shared = client
        .create_note(&CasebookNoteInput {
            subject: Some("Family meeting".into()),
            body: Some("Both present".into()),
            note_type: Some("General".into()),
            people_ids: Some(vec![first.id.clone(), second.id.clone()]),
            ..CasebookNoteInput::default()
        })
        .await
        .unwrap();

    client.delete_person(&first.id).await.unwrap();
    let kept = client.get_note(&shared.id).await.unwrap();
    assert_eq!(kept.people_ids, vec![second.id.clone()]);
    let notes = client
        .notes_for_people(std::slice::from_ref(&second.id))
        .await
        .unwrap();
    assert_eq!(notes, vec![kept]);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn writes_are_counted_once() {
    let harness = Harness::start().await;
    let client = &harness.client;
    let person = client
        .create_person(&full_person("counted@example.org"))
        .await
        .unwrap();
    client
        .update_person(&person.id, &CasebookPersonInput::default())
        .await
        .unwrap();
    client.delete_person(&person.id).await.unwrap();
    let _ = client.create_person(&CasebookPersonInput::default()).await;

    let control = &harness.sim.control;
    assert_eq!(control.count("POST /people/people"), 2);
    assert_eq!(control.count("PATCH /people/people/{id}"), 1);
    assert_eq!(control.count("DELETE /people/people/{id}"), 1);
    assert_eq!(control.total(), 4);
    assert_eq!(
        control.stats()["headers"]["accept-version"]["POST /people/people"][names::ACCEPT_VERSION],
        2
    );
    harness.sim.shutdown().await;
}
