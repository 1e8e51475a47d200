//! The GHL client's writes against the GHL simulator over HTTP on 127.0.0.1.
//!
//! Each write is followed by the client's own reads, so a test fails when a write's
//! request and the simulator's later responses disagree. `GET /_sim/state/contacts` shows
//! what the simulator stored when the client never got the response.

use std::{sync::LazyLock, time::Duration};

use casebook_ghl_gateway::{
    sim::{
        common::RunningSim,
        ghl::{self, GhlSimOptions},
        seed::{self, Dataset},
    },
    upstream::{
        HttpSettings, UpstreamError,
        ghl::{
            GhlAppointmentInput, GhlClient, GhlContactInput, GhlCustomFieldInput, GhlNoteInput,
            GhlTaskInput,
        },
    },
};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

static DATASET: LazyLock<Dataset> = LazyLock::new(Dataset::default);

async fn start_sim() -> RunningSim {
    ghl::start(
        "127.0.0.1:0".parse().unwrap(),
        &DATASET,
        GhlSimOptions::default(),
    )
    .await
    .expect("GHL simulator starts")
}

fn client_with_timeout(sim: &RunningSim, request_timeout: Duration) -> GhlClient {
    let settings = HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout,
        ..HttpSettings::default()
    };
    GhlClient::new(
        Url::parse(&sim.base_url).expect("simulator URL"),
        seed::GHL_LOCATION_ID.to_string(),
        SecretString::from(ghl::DEFAULT_TOKEN),
        &settings,
    )
    .expect("client builds")
}

fn client_for(sim: &RunningSim) -> GhlClient {
    client_with_timeout(sim, Duration::from_secs(5))
}

/// Returns the contacts the simulator stores with this e-mail, ignoring case.
async fn stored_with_email(sim: &RunningSim, email: &str) -> Vec<Value> {
    let body: Value = reqwest::get(format!("{}/_sim/state/contacts", sim.base_url))
        .await
        .expect("state route responds")
        .json()
        .await
        .expect("state is JSON");
    body["contacts"]
        .as_array()
        .expect("contacts is an array")
        .iter()
        .filter(|contact| {
            contact["email"]
                .as_str()
                .is_some_and(|own| own.eq_ignore_ascii_case(email))
        })
        .cloned()
        .collect()
}

fn seeded_contact() -> &'static seed::GhlContactSeed {
    DATASET
        .people
        .iter()
        .filter_map(|person| person.ghl.as_ref())
        .find(|contact| contact.email.is_some() && contact.phone.is_some())
        .expect("a seeded contact with e-mail and phone")
}

fn new_contact(email: &str) -> GhlContactInput {
    GhlContactInput {
        first_name: Some("Lena".into()),
        last_name: Some("Moreau".into()),
        email: Some(email.into()),
        phone: Some("+1 555 777 0101".into()),
        tags: Some(vec!["intake".into()]),
        company_name: Some("Moreau Bakery".into()),
        source: Some("gateway".into()),
        date_of_birth: Some("1988-04-12".into()),
        custom_fields: Some(vec![GhlCustomFieldInput::by_key(
            ghl::LANGUAGE_FIELD_KEY,
            "French",
        )]),
        ..GhlContactInput::default()
    }
}

#[tokio::test]
async fn contact_writes_round_trip() {
    let sim = start_sim().await;
    let client = client_for(&sim);

    let created = client
        .create_contact(&new_contact("lena@example.org"))
        .await
        .unwrap();
    assert_eq!(created.first_name.as_deref(), Some("Lena"));
    assert_eq!(created.phone.as_deref(), Some("+15557770101"));
    assert_eq!(
        created.date_of_birth.as_deref(),
        Some("1988-04-12T00:00:00.000Z")
    );
    let id = created.id.clone();

    let read = client.get_contact(&id).await.unwrap();
    assert_eq!(read.email.as_deref(), Some("lena@example.org"));
    assert_eq!(read.company_name.as_deref(), Some("Moreau Bakery"));
    assert_eq!(read.date_of_birth.as_deref(), Some("1988-04-12"));
    assert_eq!(read.custom_fields.len(), 1);
    assert_eq!(read.custom_fields[0].id, ghl::LANGUAGE_FIELD_ID);
    assert_eq!(read.custom_fields[0].value, json!("French"));

    let change = GhlContactInput {
        last_name: Some("Moreau-Blanc".into()),
        tags: Some(vec!["client".into()]),
        ..GhlContactInput::default()
    };
    let updated = client.update_contact(&id, &change).await.unwrap();
    assert_eq!(updated.last_name.as_deref(), Some("Moreau-Blanc"));
    let read = client.get_contact(&id).await.unwrap();
    assert_eq!(read.first_name.as_deref(), Some("Lena"), "untouched");
    assert_eq!(read.tags, vec!["client"], "tags are replaced");

    let tags = client
        .add_tags(&id, &["vip".to_string(), "Client".to_string()])
        .await
        .unwrap();
    assert_eq!(tags, vec!["client", "vip"]);
    let tags = client
        .remove_tags(&id, &["client".to_string()])
        .await
        .unwrap();
    assert_eq!(tags, vec!["vip"]);
    assert_eq!(client.get_contact(&id).await.unwrap().tags, vec!["vip"]);

    client.delete_contact(&id).await.unwrap();
    let err = client.get_contact(&id).await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "contact", id: missing, .. } if *missing == id),
        "{err:?}"
    );
    assert!(stored_with_email(&sim, "lena@example.org").await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn upsert_creates_then_updates() {
    let sim = start_sim().await;
    let client = client_for(&sim);

    let (is_new, first) = client
        .upsert_contact(&new_contact("upsert@example.org"))
        .await
        .unwrap();
    assert!(is_new);

    let change = GhlContactInput {
        email: Some("UPSERT@example.org".into()),
        source: Some("second pass".into()),
        ..GhlContactInput::default()
    };
    let (is_new, second) = client.upsert_contact(&change).await.unwrap();
    assert!(!is_new);
    assert_eq!(second.id, first.id);
    assert_eq!(second.source.as_deref(), Some("second pass"));
    assert_eq!(
        second.first_name.as_deref(),
        Some("Lena"),
        "fields left out are kept"
    );

    let seeded = seeded_contact();
    let by_phone = GhlContactInput {
        phone: seeded.phone.clone(),
        ..GhlContactInput::default()
    };
    let (is_new, matched) = client.upsert_contact(&by_phone).await.unwrap();
    assert!(!is_new);
    assert_eq!(matched.id, seeded.id);
    assert_eq!(stored_with_email(&sim, "upsert@example.org").await.len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicate_create_names_existing() {
    let sim = start_sim().await;
    let client = client_for(&sim);
    let seeded = seeded_contact();
    let input = GhlContactInput {
        email: seeded.email.as_ref().map(|email| email.to_uppercase()),
        ..GhlContactInput::default()
    };
    let err = client.create_contact(&input).await.unwrap_err();
    match &err {
        UpstreamError::Duplicate { existing_id, .. } => {
            assert_eq!(existing_id.as_deref(), Some(seeded.id.as_str()));
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(err.code(), "UPSTREAM_DUPLICATE");
    let email = seeded.email.as_deref().unwrap();
    assert_eq!(stored_with_email(&sim, email).await.len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_writes_are_rejected() {
    let sim = start_sim().await;
    let client = client_for(&sim);
    let contact = seeded_contact();

    let err = client
        .create_task(
            &contact.id,
            &GhlTaskInput {
                title: Some("Call".into()),
                ..GhlTaskInput::default()
            },
        )
        .await
        .unwrap_err();
    match &err {
        UpstreamError::Rejected {
            status, messages, ..
        } => {
            assert_eq!(*status, 422);
            assert!(
                messages.iter().any(|m| m.starts_with("dueDate")),
                "{messages:?}"
            );
            assert!(
                messages.iter().any(|m| m.starts_with("completed")),
                "{messages:?}"
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }

    let input = GhlAppointmentInput {
        calendar_id: Some(seed::GHL_CALENDAR_IDS[0].into()),
        contact_id: Some(contact.id.clone()),
        start_time: Some("2026-03-01T10:00:00".into()),
        ..GhlAppointmentInput::default()
    };
    let err = client.create_appointment(&input).await.unwrap_err();
    match &err {
        UpstreamError::Rejected { messages, .. } => {
            assert!(
                messages[0].contains("has no time zone offset"),
                "{messages:?}"
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }

    let bad_email = GhlContactInput {
        email: Some("not-an-email".into()),
        ..GhlContactInput::default()
    };
    let err = client.create_contact(&bad_email).await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::Rejected { status: 422, .. }),
        "{err:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn task_writes_round_trip() {
    let sim = start_sim().await;
    let client = client_for(&sim);
    let contact = seeded_contact();
    let before = client.list_tasks(&contact.id).await.unwrap().len();

    let input = GhlTaskInput {
        title: Some("Send intake packet".into()),
        body: Some("By post".into()),
        due_date: Some("2026-02-01T09:00:00-05:00".into()),
        completed: Some(false),
        assigned_to: Some(ghl::SIM_USER_ID.into()),
    };
    let task = client.create_task(&contact.id, &input).await.unwrap();
    assert_eq!(task.due_date.as_deref(), Some("2026-02-01T14:00:00.000Z"));
    assert_eq!(
        client.list_tasks(&contact.id).await.unwrap().len(),
        before + 1
    );

    let change = GhlTaskInput {
        title: Some("Send intake packet by e-mail".into()),
        ..GhlTaskInput::default()
    };
    client
        .update_task(&contact.id, &task.id, &change)
        .await
        .unwrap();
    let done = client
        .complete_task(&contact.id, &task.id, true)
        .await
        .unwrap();
    assert!(done.completed);
    let read = client.get_task(&contact.id, &task.id).await.unwrap();
    assert_eq!(read.title.as_deref(), Some("Send intake packet by e-mail"));
    assert_eq!(read.body.as_deref(), Some("By post"));
    assert!(read.completed);

    client.delete_task(&contact.id, &task.id).await.unwrap();
    let err = client.get_task(&contact.id, &task.id).await.unwrap_err();
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
    assert_eq!(client.list_tasks(&contact.id).await.unwrap().len(), before);
    sim.shutdown().await;
}

#[tokio::test]
async fn note_writes_round_trip() {
    let sim = start_sim().await;
    let client = client_for(&sim);
    let contact = seeded_contact();

    let input = GhlNoteInput {
        body: Some("Asked about the food bank".into()),
        title: Some("Phone call".into()),
        user_id: Some(ghl::SIM_USER_ID.into()),
    };
    let note = client.create_note(&contact.id, &input).await.unwrap();
    assert_eq!(note.title.as_deref(), Some("Phone call"));
    assert!(note.date_added_utc().is_some());

    let change = GhlNoteInput {
        body: Some("Asked about the food bank on Fridays".into()),
        ..GhlNoteInput::default()
    };
    client
        .update_note(&contact.id, &note.id, &change)
        .await
        .unwrap();
    let read = client.get_note(&contact.id, &note.id).await.unwrap();
    assert_eq!(
        read.body.as_deref(),
        Some("Asked about the food bank on Fridays")
    );
    assert_eq!(read.title.as_deref(), Some("Phone call"));

    client.delete_note(&contact.id, &note.id).await.unwrap();
    let err = client.get_note(&contact.id, &note.id).await.unwrap_err();
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
    sim.shutdown().await;
}

#[tokio::test]
async fn appointment_writes_round_trip() {
    let sim = start_sim().await;
    let client = client_for(&sim);
    let contact = seeded_contact();

    let input = GhlAppointmentInput {
        calendar_id: Some(seed::GHL_CALENDAR_IDS[0].into()),
        contact_id: Some(contact.id.clone()),
        start_time: Some("2026-03-01T10:00:00+01:00".into()),
        end_time: Some("2026-03-01T10:45:00+01:00".into()),
        title: Some("Housing review".into()),
        appointment_status: Some("confirmed".into()),
        address: Some("Room 2".into()),
        description: Some("Bring the lease".into()),
        ignore_free_slot_validation: Some(true),
    };
    let created = client.create_appointment(&input).await.unwrap();
    assert_eq!(created.contact_id.as_deref(), Some(contact.id.as_str()));
    assert_eq!(
        created.start_time_utc().map(|time| time.to_rfc3339()),
        Some("2026-03-01T09:00:00+00:00".to_string())
    );

    let read = client.get_appointment(&created.id).await.unwrap();
    assert_eq!(read.title.as_deref(), Some("Housing review"));
    assert_eq!(read.description.as_deref(), Some("Bring the lease"));
    let listed = client.list_contact_appointments(&contact.id).await.unwrap();
    assert!(listed.iter().any(|event| event.id == created.id));

    let change = GhlAppointmentInput {
        appointment_status: Some("cancelled".into()),
        ..GhlAppointmentInput::default()
    };
    let updated = client
        .update_appointment(&created.id, &change)
        .await
        .unwrap();
    assert_eq!(updated.appointment_status.as_deref(), Some("cancelled"));
    assert_eq!(updated.end_time, created.end_time, "times are kept");

    client.delete_appointment(&created.id).await.unwrap();
    let err = client.get_appointment(&created.id).await.unwrap_err();
    assert!(
        matches!(
            &err,
            UpstreamError::NotFound {
                resource: "appointment",
                ..
            }
        ),
        "{err:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn late_response_times_out_after_write() {
    let sim = start_sim().await;
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.base_url))
        .json(
            &json!({ "method": "POST", "path": "/contacts/", "delay_after_ms": 2000, "times": 1 }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let impatient = client_with_timeout(&sim, Duration::from_millis(300));
    let err = impatient
        .create_contact(&new_contact("late@example.org"))
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Timeout { .. }), "{err:?}");

    // The simulator kept the contact, and the client sent the POST only once.
    assert_eq!(stored_with_email(&sim, "late@example.org").await.len(), 1);
    assert_eq!(sim.control.count("POST /contacts/"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn writes_send_family_versions() {
    let sim = start_sim().await;
    let client = client_for(&sim);
    let contact = seeded_contact();
    let note = client
        .create_note(
            &contact.id,
            &GhlNoteInput {
                body: Some("Hello".into()),
                ..GhlNoteInput::default()
            },
        )
        .await
        .unwrap();
    client.delete_note(&contact.id, &note.id).await.unwrap();
    let appointment = client
        .create_appointment(&GhlAppointmentInput {
            calendar_id: Some(seed::GHL_CALENDAR_IDS[1].into()),
            contact_id: Some(contact.id.clone()),
            start_time: Some("2026-04-01T15:00:00Z".into()),
            ..GhlAppointmentInput::default()
        })
        .await
        .unwrap();
    client.delete_appointment(&appointment.id).await.unwrap();

    let stats = sim.control.stats();
    let versions = &stats["headers"]["version"];
    assert_eq!(
        versions["POST /contacts/{contactId}/notes"]["2021-07-28"],
        1
    );
    assert_eq!(
        versions["DELETE /contacts/{contactId}/notes/{id}"]["2021-07-28"],
        1
    );
    assert_eq!(
        versions["POST /calendars/events/appointments"]["2021-04-15"],
        1
    );
    assert_eq!(
        versions["DELETE /calendars/events/{eventId}"]["2021-04-15"],
        1
    );
    assert_eq!(
        stats["routes"]["DELETE /calendars/events/{eventId}"]["statuses"]["201"],
        1
    );
    sim.shutdown().await;
}
