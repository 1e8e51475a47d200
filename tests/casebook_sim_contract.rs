//! Contract tests of the Casebook simulator over HTTP: auth, error documents, the
//! crnk-style query language, paging links, compound documents, faults, stats, and
//! JSON:API writes with their validation and the test-only state listing.
//!
//! Every test starts its own simulator on 127.0.0.1 with an OS-chosen port and compares
//! its responses with the seeded data set it was built from.

use std::collections::{BTreeSet, HashSet};

use casebook_ghl_gateway::sim::casebook::{
    self, CasebookSimOptions, DEFAULT_TOKEN, RequiredAttributes, STATE_PATH,
};
use casebook_ghl_gateway::sim::common::RunningSim;
use casebook_ghl_gateway::sim::seed::{CasebookPersonSeed, Dataset, MatchCase};
use casebook_ghl_gateway::upstream::casebook::names;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A running simulator, a client and the data set it serves.
struct Harness {
    sim: RunningSim,
    client: reqwest::Client,
    data: Dataset,
}

/// One response, with the body parsed as JSON.
struct Reply {
    status: StatusCode,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(CasebookSimOptions::default()).await
    }

    async fn start_with(options: CasebookSimOptions) -> Harness {
        let data = Dataset::default();
        let sim = casebook::start("127.0.0.1:0".parse().unwrap(), &data, options)
            .await
            .expect("the simulator should bind a loopback port");
        Harness {
            sim,
            client: reqwest::Client::new(),
            data,
        }
    }

    fn people(&self) -> Vec<&CasebookPersonSeed> {
        self.data
            .people
            .iter()
            .filter_map(|person| person.casebook.as_ref())
            .collect()
    }

    /// Sends an authenticated GET with query pairs, which reqwest percent-encodes.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        let request = self
            .client
            .get(format!("{}{path}", self.sim.base_url))
            .query(query)
            .bearer_auth(DEFAULT_TOKEN)
            .header("Accept", names::MEDIA_TYPE)
            .header("Accept-Version", names::ACCEPT_VERSION);
        reply(request.send().await.expect("the request should complete")).await
    }

    /// Sends an authenticated GET to an absolute URL taken from a `links` member.
    async fn follow(&self, url: &str) -> Reply {
        let request = self.client.get(url).bearer_auth(DEFAULT_TOKEN);
        reply(request.send().await.expect("the request should complete")).await
    }

    /// Sends an authenticated write with a JSON:API body.
    async fn write(&self, method: Method, path: &str, body: &Value) -> Reply {
        self.write_raw(method, path, Some(names::MEDIA_TYPE), &body.to_string())
            .await
    }

    /// Sends an authenticated write with a raw body and an optional Content-Type.
    async fn write_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.sim.base_url))
            .bearer_auth(DEFAULT_TOKEN)
            .header("Accept", names::MEDIA_TYPE)
            .body(body.to_string());
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        reply(request.send().await.expect("the request should complete")).await
    }

    /// Creates a resource and returns its `data`, failing the test unless the status is 201.
    async fn create(&self, path: &str, body: &Value) -> Value {
        let reply = self.write(Method::POST, path, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["data"].clone()
    }

    /// Sends an authenticated DELETE and returns the status and the raw body.
    async fn delete(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .delete(format!("{}{path}", self.sim.base_url))
            .bearer_auth(DEFAULT_TOKEN)
            .send()
            .await
            .expect("the request should complete");
        let status = response.status();
        (
            status,
            response.text().await.expect("the body should arrive"),
        )
    }

    /// Reads the unauthenticated state listing.
    async fn state(&self) -> Value {
        let response = self
            .client
            .get(format!("{}{STATE_PATH}", self.sim.base_url))
            .send()
            .await
            .expect("the request should complete");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("the state should be JSON")
    }

    /// Fetches a collection and returns the ids of `data`.
    async fn ids(&self, path: &str, query: &[(&str, &str)]) -> Vec<String> {
        let reply = self.get(path, query).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        data_ids(&reply.body)
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.expect("the body should arrive");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

fn data_ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("data should be an array")
        .iter()
        .map(|resource| resource["id"].as_str().unwrap().to_string())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Checks the single error object of a JSON:API error document.
fn assert_error(reply: &Reply, status: u16, title: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.content_type, names::MEDIA_TYPE);
    let errors = reply.body["errors"].as_array().expect("errors array");
    assert_eq!(errors.len(), 1, "{}", reply.body);
    assert_eq!(errors[0]["status"], status.to_string());
    assert_eq!(errors[0]["title"], title);
    let detail = errors[0]["detail"].as_str().unwrap_or_default();
    assert!(!detail.is_empty(), "{}", reply.body);
}

/// Query pairs as `reqwest::RequestBuilder::query` takes them.
type QueryPairs<'a> = Vec<(&'a str, &'a str)>;

fn people_path() -> String {
    names::PEOPLE.path()
}

fn notes_path() -> String {
    names::NOTES.path()
}

fn tasks_path() -> String {
    names::TASKS.path()
}

#[tokio::test]
async fn auth_missing_token_is_401() {
    let harness = Harness::start().await;
    let url = format!("{}{}", harness.sim.base_url, people_path());

    let missing = reply(harness.client.get(&url).send().await.unwrap()).await;
    assert_error(&missing, 401, "Unauthorized");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");

    let wrong = reply(
        harness
            .client
            .get(&url)
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&wrong, 401, "Unauthorized");

    let basic = reply(
        harness
            .client
            .get(&url)
            .header("Authorization", format!("Basic {DEFAULT_TOKEN}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&basic, 401, "Unauthorized");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn auth_accepts_configured_tokens() {
    let options = CasebookSimOptions {
        tokens: vec!["first".into(), "second".into()],
        ..CasebookSimOptions::default()
    };
    let harness = Harness::start_with(options).await;
    let url = format!("{}{}", harness.sim.base_url, people_path());
    for (token, expected) in [
        ("first", 200),
        ("second", 200),
        (DEFAULT_TOKEN, 401),
        ("firs", 401),
    ] {
        let response = harness
            .client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected, "token {token}");
    }
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn options_debug_hides_tokens() {
    let text = format!("{:?}", CasebookSimOptions::default());
    assert!(!text.contains(DEFAULT_TOKEN), "{text}");
}

#[tokio::test]
async fn unknown_id_is_404_document() {
    let harness = Harness::start().await;
    let reply = harness
        .get(&format!("{}/no-such-id", people_path()), &[])
        .await;
    assert_error(&reply, 404, "Not Found");
    assert_eq!(
        reply.body,
        json!({"errors": [{
            "status": "404",
            "title": "Not Found",
            "detail": "No people record with id no-such-id."
        }]})
    );

    let note = harness.get(&format!("{}/x", notes_path()), &[]).await;
    assert_eq!(
        note.body["errors"][0]["detail"],
        "No notes record with id x."
    );
    let task = harness.get(&format!("{}/x", tasks_path()), &[]).await;
    assert_eq!(
        task.body["errors"][0]["detail"],
        "No tasks record with id x."
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn unknown_route_is_404_document() {
    let harness = Harness::start().await;
    let reply = harness.get("/cases/cases", &[]).await;
    assert_error(&reply, 404, "Not Found");
    let detail = reply.body["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("/people/people"), "{detail}");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn unsupported_method_is_405_document() {
    let harness = Harness::start().await;
    let cases = [
        (people_path(), "GET, HEAD, POST"),
        (
            format!("{}/some-id", notes_path()),
            "GET, HEAD, PATCH, DELETE",
        ),
        ("/tasks".to_string(), "GET, HEAD"),
    ];
    for (path, allowed) in cases {
        let response = harness
            .client
            .put(format!("{}{path}", harness.sim.base_url))
            .bearer_auth(DEFAULT_TOKEN)
            .send()
            .await
            .unwrap();
        let reply = reply(response).await;
        assert_error(&reply, 405, "Method Not Allowed");
        assert_eq!(reply.headers["allow"], allowed, "{path}");
    }
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn service_root_lists_collections() {
    let harness = Harness::start().await;
    for collection in [names::PEOPLE, names::NOTES, names::TASKS] {
        let reply = harness.get(&format!("/{}", collection.service), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.content_type, names::MEDIA_TYPE);
        let expected = format!("{}{}", harness.sim.base_url, collection.path());
        assert_eq!(reply.body["links"][collection.collection], expected);
    }
    let reply = harness.get("/people", &[("q", "x")]).await;
    assert_error(&reply, 400, "Bad Request");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn person_resource_has_contract_shape() {
    let harness = Harness::start().await;
    let person = harness.people()[0].clone();
    let reply = harness
        .get(&format!("{}/{}", people_path(), person.id), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.content_type, names::MEDIA_TYPE);

    let data = &reply.body["data"];
    assert_eq!(data["type"], names::PEOPLE.type_name);
    assert_eq!(data["id"], person.id);
    assert_eq!(
        data["links"]["self"],
        format!("{}{}/{}", harness.sim.base_url, people_path(), person.id)
    );
    let attributes = data["attributes"].as_object().unwrap();
    let keys: BTreeSet<&str> = attributes.keys().map(String::as_str).collect();
    use names::person::*;
    let expected: BTreeSet<&str> = [
        FIRST_NAME,
        LAST_NAME,
        EMAIL,
        PHONE,
        DATE_OF_BIRTH,
        HISPANIC_OR_LATINO,
        PREFERRED_LANGUAGE,
        CREATED_AT,
        UPDATED_AT,
    ]
    .into();
    assert_eq!(keys, expected);
    assert!(attributes[HISPANIC_OR_LATINO].is_null());
    assert!(attributes[PREFERRED_LANGUAGE].is_null());
    assert_eq!(attributes[FIRST_NAME], person.first_name);
    assert_eq!(attributes[DATE_OF_BIRTH], person.date_of_birth);
    assert_eq!(
        attributes[CREATED_AT],
        person.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(reply.body["links"]["self"], data["links"]["self"]);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn person_contacts_are_served_as_seeded() {
    let harness = Harness::start().await;
    let odd: Vec<&CasebookPersonSeed> = harness
        .data
        .people
        .iter()
        .filter(|p| p.match_case == MatchCase::EmailWrittenDifferently)
        .filter_map(|p| p.casebook.as_ref())
        .collect();
    assert!(
        odd.iter()
            .any(|p| p.email.as_deref().unwrap().starts_with(' '))
    );
    for person in odd.iter().take(4).copied().chain(harness.people()) {
        let reply = harness
            .get(&format!("{}/{}", people_path(), person.id), &[])
            .await;
        let attributes = &reply.body["data"]["attributes"];
        assert_eq!(attributes["email"], json!(person.email), "{}", person.id);
        assert_eq!(attributes["phone"], json!(person.phone), "{}", person.id);
    }
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn note_and_task_resources_link_people() {
    let harness = Harness::start().await;
    let person = harness
        .people()
        .into_iter()
        .find(|p| !p.notes.is_empty() && !p.tasks.is_empty())
        .unwrap()
        .clone();

    let note = &person.notes[0];
    let reply = harness
        .get(&format!("{}/{}", notes_path(), note.id), &[])
        .await;
    let data = &reply.body["data"];
    assert_eq!(data["type"], names::NOTES.type_name);
    assert_eq!(data["attributes"][names::note::SUBJECT], note.subject);
    assert_eq!(data["attributes"][names::note::NOTE_TYPE], note.note_type);
    assert_eq!(
        data["relationships"][names::note::PEOPLE]["data"],
        json!([{ "type": "people", "id": person.id }])
    );

    let task = &person.tasks[0];
    let reply = harness
        .get(&format!("{}/{}", tasks_path(), task.id), &[])
        .await;
    let data = &reply.body["data"];
    assert_eq!(data["type"], names::TASKS.type_name);
    let status = if task.completed {
        names::task::STATUS_COMPLETED
    } else {
        names::task::STATUS_OPEN
    };
    assert_eq!(data["attributes"][names::task::STATUS], status);
    assert_eq!(
        data["attributes"][names::task::COMPLETED_AT].is_null(),
        !task.completed
    );
    assert_eq!(
        data["relationships"][names::task::PERSON]["data"],
        json!({ "type": "people", "id": person.id })
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn meeting_notes_carry_end_time() {
    let harness = Harness::start().await;
    let ids = harness
        .ids(
            &notes_path(),
            &[
                ("filter[note_type]", names::APPOINTMENT_NOTE_TYPE),
                ("page[limit]", "100"),
            ],
        )
        .await;
    assert!(!ids.is_empty());
    let reply = harness
        .get(&format!("{}/{}", notes_path(), ids[0]), &[])
        .await;
    let attributes = &reply.body["data"]["attributes"];
    assert!(attributes[names::note::ENDS_AT].is_string(), "{attributes}");
    assert!(
        attributes[names::note::OCCURRED_AT].is_string(),
        "{attributes}"
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_exact_is_case_sensitive() {
    let harness = Harness::start().await;
    let person = harness.people()[3].clone();
    let expected: Vec<String> = sorted(
        harness
            .people()
            .iter()
            .filter(|p| p.first_name == person.first_name)
            .map(|p| p.id.clone())
            .collect(),
    );
    let ids = harness
        .ids(
            &people_path(),
            &[
                ("filter[first_name]", &person.first_name),
                ("page[limit]", "100"),
            ],
        )
        .await;
    assert_eq!(sorted(ids), expected);

    let upper = person.first_name.to_uppercase();
    let ids = harness
        .ids(&people_path(), &[("filter[first_name][EQ]", &upper)])
        .await;
    assert!(ids.is_empty());
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_email_matches_raw_value() {
    let harness = Harness::start().await;
    let person = harness
        .data
        .people
        .iter()
        .filter(|p| p.match_case == MatchCase::EmailWrittenDifferently)
        .filter_map(|p| p.casebook.as_ref())
        .find(|p| p.email.as_deref().unwrap().starts_with(' '))
        .unwrap()
        .clone();
    let raw = person.email.clone().unwrap();
    let ids = harness
        .ids(&people_path(), &[("filter[email]", &raw)])
        .await;
    assert_eq!(ids, vec![person.id.clone()]);
    let trimmed = harness
        .ids(&people_path(), &[("filter[email]", raw.trim())])
        .await;
    assert!(!trimmed.contains(&person.id));
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_any_of_ids() {
    let harness = Harness::start().await;
    let chosen: Vec<String> = harness
        .people()
        .iter()
        .step_by(17)
        .take(5)
        .map(|p| p.id.clone())
        .collect();
    let joined = chosen.join(",");
    let ids = harness
        .ids(&people_path(), &[("filter[id]", &joined)])
        .await;
    assert_eq!(sorted(ids), sorted(chosen));
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_null_and_neq() {
    let harness = Harness::start().await;
    let without_phone: BTreeSet<String> = harness
        .people()
        .iter()
        .filter(|p| p.phone.is_none())
        .map(|p| p.id.clone())
        .collect();

    let reply = harness
        .get(
            &people_path(),
            &[("filter[phone]", "null"), ("page[limit]", "100")],
        )
        .await;
    assert_eq!(
        reply.body["meta"][names::META_TOTAL],
        json!(without_phone.len())
    );
    assert!(
        data_ids(&reply.body)
            .iter()
            .all(|id| without_phone.contains(id))
    );

    let reply = harness
        .get(&people_path(), &[("filter[phone][NEQ]", "null")])
        .await;
    assert_eq!(
        reply.body["meta"][names::META_TOTAL],
        json!(harness.people().len() - without_phone.len())
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_like_uses_percent_wildcard() {
    let harness = Harness::start().await;
    let expected: Vec<String> = sorted(
        harness
            .people()
            .iter()
            .filter(|p| p.last_name.contains("an"))
            .map(|p| p.id.clone())
            .collect(),
    );
    assert!(!expected.is_empty());
    let reply = harness
        .get(
            &people_path(),
            &[("filter[last_name][LIKE]", "%an%"), ("page[limit]", "100")],
        )
        .await;
    assert_eq!(reply.body["meta"][names::META_TOTAL], json!(expected.len()));
    assert_eq!(sorted(data_ids(&reply.body)), expected);

    let upper = harness
        .get(&people_path(), &[("filter[last_name][LIKE]", "%AN%")])
        .await;
    assert_eq!(upper.body["meta"][names::META_TOTAL], 0);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_compares_date_times() {
    let harness = Harness::start().await;
    let bound = harness.data.anchor - chrono::Duration::days(60);
    let bound_text = bound.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let expected: Vec<String> = sorted(
        harness
            .people()
            .iter()
            .flat_map(|p| p.tasks.iter())
            .filter(|t| t.due_at > bound)
            .map(|t| t.id.clone())
            .collect(),
    );
    let reply = harness
        .get(
            &tasks_path(),
            &[("filter[due_at][GT]", &bound_text), ("page[limit]", "100")],
        )
        .await;
    assert_eq!(reply.body["meta"][names::META_TOTAL], json!(expected.len()));
    assert_eq!(sorted(data_ids(&reply.body)), expected);

    let born: Vec<String> = sorted(
        harness
            .people()
            .iter()
            .filter(|p| p.date_of_birth.as_str() <= "1960-12-31")
            .map(|p| p.id.clone())
            .collect(),
    );
    let reply = harness
        .get(
            &people_path(),
            &[
                ("filter[date_of_birth][LE]", "1960-12-31"),
                ("page[limit]", "100"),
            ],
        )
        .await;
    assert_eq!(sorted(data_ids(&reply.body)), born);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_notes_by_people_ids() {
    let harness = Harness::start().await;
    let owners: Vec<&CasebookPersonSeed> = harness
        .people()
        .into_iter()
        .filter(|p| !p.notes.is_empty())
        .take(3)
        .collect();
    let joined = owners
        .iter()
        .map(|p| p.id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let expected: Vec<String> = sorted(
        owners
            .iter()
            .flat_map(|p| p.notes.iter().map(|n| n.id.clone()))
            .collect(),
    );
    let ids = harness
        .ids(&notes_path(), &[("filter[people.id]", &joined)])
        .await;
    assert_eq!(sorted(ids), expected);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_tasks_by_person() {
    let harness = Harness::start().await;
    let owner = harness
        .people()
        .into_iter()
        .find(|p| p.tasks.len() >= 2)
        .unwrap()
        .clone();
    let expected: Vec<String> = sorted(owner.tasks.iter().map(|t| t.id.clone()).collect());
    let ids = harness
        .ids(&tasks_path(), &[("filter[person.id]", &owner.id)])
        .await;
    assert_eq!(sorted(ids), expected);

    let open: Vec<String> = sorted(
        owner
            .tasks
            .iter()
            .filter(|t| !t.completed)
            .map(|t| t.id.clone())
            .collect(),
    );
    let ids = harness
        .ids(
            &tasks_path(),
            &[
                ("filter[person.id]", owner.id.as_str()),
                ("filter[status]", names::task::STATUS_OPEN),
            ],
        )
        .await;
    assert_eq!(sorted(ids), open);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_json_expression() {
    let harness = Harness::start().await;
    let expected: Vec<String> = sorted(
        harness
            .people()
            .iter()
            .filter(|p| {
                p.first_name.contains("an") || p.email.as_deref().is_some_and(|e| e.contains("an"))
            })
            .map(|p| p.id.clone())
            .collect(),
    );
    let filter = json!({"OR": [
        {"first_name": {"LIKE": "%an%"}},
        {"email": {"LIKE": "%an%"}}
    ]})
    .to_string();
    let reply = harness
        .get(
            &people_path(),
            &[("filter", &filter), ("page[limit]", "100")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["meta"][names::META_TOTAL], json!(expected.len()));
    let mut ids = data_ids(&reply.body);
    let mut offset = 100;
    while ids.len() < expected.len() {
        let offset_text = offset.to_string();
        let more = harness
            .ids(
                &people_path(),
                &[
                    ("filter", &filter),
                    ("page[offset]", &offset_text),
                    ("page[limit]", "100"),
                ],
            )
            .await;
        assert!(!more.is_empty());
        ids.extend(more);
        offset += 100;
    }
    assert_eq!(sorted(ids), expected);

    let negated = json!({"NOT": {"OR": [
        {"first_name": {"LIKE": "%an%"}},
        {"email": {"LIKE": "%an%"}}
    ]}})
    .to_string();
    let reply = harness.get(&people_path(), &[("filter", &negated)]).await;
    assert_eq!(
        reply.body["meta"][names::META_TOTAL],
        json!(harness.people().len() - expected.len())
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn filter_json_and_bracket_are_and_ed() {
    let harness = Harness::start().await;
    let owner = harness
        .people()
        .into_iter()
        .find(|p| p.notes.len() >= 2)
        .unwrap()
        .clone();
    let first_type = owner.notes[0].note_type.clone();
    let expected: Vec<String> = sorted(
        owner
            .notes
            .iter()
            .filter(|n| n.note_type == first_type)
            .map(|n| n.id.clone())
            .collect(),
    );
    let filter = json!({"AND": [{"people": {"id": owner.id}}]}).to_string();
    let ids = harness
        .ids(
            &notes_path(),
            &[("filter", &filter), ("filter[note_type]", &first_type)],
        )
        .await;
    assert_eq!(sorted(ids), expected);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn sort_both_directions() {
    let harness = Harness::start().await;
    let mut expected: Vec<(String, String)> = harness
        .people()
        .iter()
        .map(|p| (p.last_name.clone(), p.id.clone()))
        .collect();
    expected.sort();
    let ascending: Vec<String> = expected
        .iter()
        .take(100)
        .map(|(_, id)| id.clone())
        .collect();
    let ids = harness
        .ids(
            &people_path(),
            &[("sort", "last_name"), ("page[limit]", "100")],
        )
        .await;
    assert_eq!(ids, ascending);

    // Descending on the name, with ties still in ascending id order.
    expected.sort_by(|left, right| right.0.cmp(&left.0).then(left.1.cmp(&right.1)));
    let descending: Vec<String> = expected
        .iter()
        .take(100)
        .map(|(_, id)| id.clone())
        .collect();
    let ids = harness
        .ids(
            &people_path(),
            &[("sort", "-last_name"), ("page[limit]", "100")],
        )
        .await;
    assert_eq!(ids, descending);

    let mut by_created: Vec<(chrono::DateTime<chrono::Utc>, String)> = harness
        .people()
        .iter()
        .map(|p| (p.created_at, p.id.clone()))
        .collect();
    by_created.sort_by(|left, right| right.0.cmp(&left.0).then(left.1.cmp(&right.1)));
    let ids = harness
        .ids(&people_path(), &[("sort", "-created_at,id")])
        .await;
    let newest: Vec<String> = by_created
        .iter()
        .take(10)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(ids, newest);
    harness.sim.shutdown().await;
}

/// Follows `links.next` from `first` and returns every id seen, checking each page.
async fn walk_pages(harness: &Harness, first: Reply, page_size: usize) -> Vec<String> {
    let total = harness.people().len();
    let mut reply = first;
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["meta"][names::META_TOTAL], json!(total));
        let page = data_ids(&reply.body);
        assert!(page.len() <= page_size);
        ids.extend(page);
        pages += 1;
        assert!(pages <= total, "paging does not end");
        match reply.body["links"]["next"].as_str() {
            Some(next) => reply = harness.follow(next).await,
            None => {
                assert!(reply.body["links"]["next"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, total.div_ceil(page_size));
    ids
}

#[tokio::test]
async fn offset_paging_walks_everyone_once() {
    let harness = Harness::start().await;
    let first = harness
        .get(
            &people_path(),
            &[("page[offset]", "0"), ("page[limit]", "7")],
        )
        .await;
    assert!(first.body["links"]["prev"].is_null());
    let ids = walk_pages(&harness, first, 7).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), harness.people().len());
    assert_eq!(unique.len(), ids.len());
    let expected: Vec<String> = sorted(harness.people().iter().map(|p| p.id.clone()).collect());
    assert_eq!(sorted(ids), expected);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn number_paging_walks_everyone_once() {
    let harness = Harness::start().await;
    let first = harness
        .get(
            &people_path(),
            &[
                ("sort", "-last_name"),
                ("page[number]", "1"),
                ("page[size]", "9"),
            ],
        )
        .await;
    let ids = walk_pages(&harness, first, 9).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), harness.people().len());
    assert_eq!(unique.len(), ids.len());
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn default_page_is_ten() {
    let harness = Harness::start().await;
    let reply = harness.get(&people_path(), &[]).await;
    assert_eq!(data_ids(&reply.body).len(), 10);
    let next = reply.body["links"]["next"].as_str().unwrap();
    let url = url::Url::parse(next).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(
        pairs.contains(&("page[offset]".into(), "10".into())),
        "{next}"
    );
    assert!(
        pairs.contains(&("page[limit]".into(), "10".into())),
        "{next}"
    );
    harness.sim.shutdown().await;
}

/// Parses the query pairs of a link, or returns `None` for a null link.
fn link_pairs(links: &Value, name: &str) -> Option<Vec<(String, String)>> {
    let link = links[name].as_str()?;
    let url = url::Url::parse(link).unwrap_or_else(|_| panic!("{name} link {link} is not a URL"));
    Some(url.query_pairs().into_owned().collect())
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

#[tokio::test]
async fn links_keep_style_and_parameters() {
    let harness = Harness::start().await;
    let total = harness.people().len();
    let reply = harness
        .get(
            &people_path(),
            &[
                ("sort", "last_name"),
                ("page[number]", "2"),
                ("page[size]", "50"),
            ],
        )
        .await;
    let links = &reply.body["links"];
    let last = total.div_ceil(50).to_string();
    for (name, number) in [
        ("self", "2"),
        ("first", "1"),
        ("prev", "1"),
        ("next", "3"),
        ("last", last.as_str()),
    ] {
        let pairs = link_pairs(links, name).unwrap_or_else(|| panic!("{name} is null"));
        assert_eq!(
            pairs,
            vec![
                pair("sort", "last_name"),
                pair("page[number]", number),
                pair("page[size]", "50"),
            ],
            "{name} link"
        );
    }

    let last_offset = ((total - 1) / 50 * 50).to_string();
    let reply = harness
        .get(
            &people_path(),
            &[("page[offset]", &last_offset), ("page[limit]", "50")],
        )
        .await;
    let links = &reply.body["links"];
    assert!(links["next"].is_null(), "{links}");
    let prev_offset = ((total - 1) / 50 * 50 - 50).to_string();
    assert_eq!(
        link_pairs(links, "prev").unwrap(),
        vec![
            pair("page[offset]", &prev_offset),
            pair("page[limit]", "50")
        ]
    );
    assert_eq!(
        link_pairs(links, "last").unwrap(),
        link_pairs(links, "self").unwrap()
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn empty_result_has_consistent_links() {
    let harness = Harness::start().await;
    let reply = harness
        .get(&people_path(), &[("filter[first_name]", "Nobody")])
        .await;
    assert_eq!(reply.body["data"], json!([]));
    assert_eq!(reply.body["meta"][names::META_TOTAL], 0);
    let links = &reply.body["links"];
    assert!(links["prev"].is_null());
    assert!(links["next"].is_null());
    assert_eq!(link_pairs(links, "first"), link_pairs(links, "last"));
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn page_past_end_is_empty() {
    let harness = Harness::start().await;
    let max = u64::MAX.to_string();
    for query in [
        vec![("page[number]", max.as_str()), ("page[size]", "1")],
        vec![("page[number]", max.as_str()), ("page[size]", "100")],
        vec![("page[offset]", max.as_str()), ("page[limit]", "100")],
    ] {
        let reply = harness.get(&people_path(), &query).await;
        assert_eq!(reply.status, StatusCode::OK, "{query:?}: {}", reply.body);
        assert_eq!(reply.body["data"], json!([]), "{query:?}");
        assert!(reply.body["links"]["next"].is_null(), "{query:?}");
        assert!(reply.body["links"]["prev"].is_string(), "{query:?}");
    }
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn include_people_on_notes() {
    let harness = Harness::start().await;
    let owners: Vec<&CasebookPersonSeed> = harness
        .people()
        .into_iter()
        .filter(|p| !p.notes.is_empty())
        .take(2)
        .collect();
    let joined = format!("{},{}", owners[0].id, owners[1].id);
    let reply = harness
        .get(
            &notes_path(),
            &[("filter[people.id]", &joined), ("include", "people")],
        )
        .await;
    let included = reply.body["included"].as_array().expect("included array");
    let included_ids: Vec<String> = sorted(
        included
            .iter()
            .map(|resource| {
                assert_eq!(resource["type"], "people");
                resource["id"].as_str().unwrap().to_string()
            })
            .collect(),
    );
    assert_eq!(
        included_ids,
        sorted(vec![owners[0].id.clone(), owners[1].id.clone()])
    );
    let ada = included.iter().find(|r| r["id"] == owners[0].id).unwrap();
    assert_eq!(ada["attributes"]["first_name"], owners[0].first_name);

    let without = harness.get(&notes_path(), &[]).await;
    assert!(without.body.get("included").is_none());
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn include_person_on_tasks() {
    let harness = Harness::start().await;
    let owner = harness
        .people()
        .into_iter()
        .find(|p| !p.tasks.is_empty())
        .unwrap()
        .clone();
    let reply = harness
        .get(
            &format!("{}/{}", tasks_path(), owner.tasks[0].id),
            &[("include", "person")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let included = reply.body["included"].as_array().unwrap();
    assert_eq!(included.len(), 1);
    assert_eq!(included[0]["id"], owner.id);
    assert_eq!(included[0]["type"], "people");

    let reply = harness
        .get(
            &tasks_path(),
            &[("include", "person"), ("page[limit]", "100")],
        )
        .await;
    let included = reply.body["included"].as_array().unwrap();
    let unique: HashSet<&str> = included.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), included.len(), "included has duplicates");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn sparse_fieldsets_limit_members() {
    let harness = Harness::start().await;
    let reply = harness
        .get(&people_path(), &[("fields[people]", "first_name,email")])
        .await;
    for resource in reply.body["data"].as_array().unwrap() {
        let keys: BTreeSet<&str> = resource["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, BTreeSet::from(["email", "first_name"]));
        assert!(resource["id"].is_string());
    }

    let reply = harness
        .get(
            &notes_path(),
            &[
                ("fields[notes]", "subject"),
                ("include", "people"),
                ("fields[people]", "last_name"),
            ],
        )
        .await;
    let note = &reply.body["data"][0];
    assert_eq!(
        note["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["subject"]
    );
    assert!(note.get("relationships").is_none(), "{note}");
    let person = &reply.body["included"][0];
    assert_eq!(
        person["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["last_name"]
    );

    let reply = harness
        .get(&notes_path(), &[("fields[notes]", "people")])
        .await;
    let note = &reply.body["data"][0];
    assert_eq!(note["attributes"], json!({}));
    assert!(note["relationships"]["people"]["data"].is_array());
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn bad_queries_are_400_with_parameter() {
    let harness = Harness::start().await;
    let people = people_path();
    let notes = notes_path();
    let tasks = tasks_path();
    let single = format!("{}/{}", people, harness.people()[0].id);
    // Each case: the path, the query pairs and the parameter the error must name.
    let cases: Vec<(&str, QueryPairs, &str)> = vec![
        (&people, vec![("q", "ada")], "q"),
        (&people, vec![("filter[nickname]", "x")], "filter[nickname]"),
        (
            &people,
            vec![("filter[first_name][SOUNDS]", "x")],
            "filter[first_name][SOUNDS]",
        ),
        (
            &people,
            vec![("filter[first_name][like]", "x")],
            "filter[first_name][like]",
        ),
        (&people, vec![("filter[a][EQ][b]", "x")], "filter[a][EQ][b]"),
        (
            &people,
            vec![("filter[created_at][GT]", "yesterday")],
            "filter[created_at][GT]",
        ),
        (
            &people,
            vec![("filter[date_of_birth]", "1990-13-01")],
            "filter[date_of_birth]",
        ),
        (
            &people,
            vec![("filter[email][LT]", "null")],
            "filter[email][LT]",
        ),
        (&people, vec![("filter", "{\"OR\": [")], "filter"),
        (&people, vec![("filter", "{\"nickname\": \"x\"}")], "filter"),
        (
            &people,
            vec![("filter", "{\"email\": {\"ILIKE\": \"x\"}}")],
            "filter",
        ),
        (&people, vec![("filter", "{\"email\": 5}")], "filter"),
        (&people, vec![("filter", "[]")], "filter"),
        (
            &notes,
            vec![("filter[person.id]", "x")],
            "filter[person.id]",
        ),
        (
            &tasks,
            vec![("filter[person.nickname]", "x")],
            "filter[person.nickname]",
        ),
        (&people, vec![("sort", "nickname")], "sort"),
        (&people, vec![("sort", "last_name,,id")], "sort"),
        (&people, vec![("sort", "id"), ("sort", "email")], "sort"),
        (&people, vec![("include", "notes")], "include"),
        (&notes, vec![("include", "people.tasks")], "include"),
        (
            &people,
            vec![("fields[persons]", "email")],
            "fields[persons]",
        ),
        (
            &people,
            vec![("fields[people]", "nickname")],
            "fields[people]",
        ),
        (&people, vec![("page[limit]", "101")], "page[limit]"),
        (&people, vec![("page[size]", "1000")], "page[size]"),
        (&people, vec![("page[limit]", "0")], "page[limit]"),
        (&people, vec![("page[number]", "0")], "page[number]"),
        (&people, vec![("page[offset]", "-5")], "page[offset]"),
        (&people, vec![("page[offset]", "abc")], "page[offset]"),
        (&people, vec![("page[cursor]", "abc")], "page[cursor]"),
        (
            &people,
            vec![("page[offset]", "0"), ("page[size]", "5")],
            "page[size]",
        ),
        (&single, vec![("sort", "id")], "sort"),
        (&single, vec![("filter[email]", "x")], "filter[email]"),
        (&single, vec![("q", "x")], "q"),
    ];
    for (path, query, parameter) in cases {
        let reply = harness.get(path, &query).await;
        assert_error(&reply, 400, "Bad Request");
        assert_eq!(
            reply.body["errors"][0]["source"]["parameter"], parameter,
            "query {query:?} on {path}: {}",
            reply.body
        );
    }
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn bad_query_detail_names_accepted_values() {
    let harness = Harness::start().await;
    let reply = harness
        .get(&people_path(), &[("filter[nickname]", "x")])
        .await;
    let detail = reply.body["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("nickname"), "{detail}");
    assert!(detail.contains("first_name"), "{detail}");

    let reply = harness
        .get(&people_path(), &[("filter[email][ILIKE]", "x")])
        .await;
    let detail = reply.body["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("EQ, NEQ, LIKE, GT, GE, LT, LE"), "{detail}");

    let reply = harness.get(&people_path(), &[("page[limit]", "500")]).await;
    let detail = reply.body["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("from 1 to 100"), "{detail}");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn max_page_size_is_configurable() {
    let options = CasebookSimOptions {
        max_page_size: 20,
        ..CasebookSimOptions::default()
    };
    let harness = Harness::start_with(options).await;
    let ok = harness.get(&people_path(), &[("page[limit]", "20")]).await;
    assert_eq!(data_ids(&ok.body).len(), 20);
    let too_big = harness.get(&people_path(), &[("page[size]", "21")]).await;
    assert_error(&too_big, 400, "Bad Request");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn lenient_mode_ignores_unknown_names() {
    let options = CasebookSimOptions {
        strict_parameters: false,
        ..CasebookSimOptions::default()
    };
    let harness = Harness::start_with(options).await;
    let reply = harness
        .get(
            &people_path(),
            &[
                ("q", "ada"),
                ("filter[nickname]", "x"),
                ("sort", "nickname"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["meta"][names::META_TOTAL],
        json!(harness.people().len())
    );

    // Operators and values are still checked.
    let reply = harness
        .get(&people_path(), &[("filter[email][ILIKE]", "x")])
        .await;
    assert_error(&reply, 400, "Bad Request");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn fault_rules_use_jsonapi_errors() {
    let harness = Harness::start().await;
    let response = harness
        .client
        .post(format!("{}/_sim/faults", harness.sim.base_url))
        .json(&json!({"method": "GET", "path": "/people/people", "status": 503, "times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let faulted = harness.get(&people_path(), &[]).await;
    assert_error(&faulted, 503, "Service Unavailable");
    let detail = faulted.body["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("GET /people/people"), "{detail}");

    let recovered = harness.get(&people_path(), &[]).await;
    assert_eq!(recovered.status, StatusCode::OK);

    let response = harness
        .client
        .post(format!("{}/_sim/faults", harness.sim.base_url))
        .json(&json!({"path": "/tasks/", "status": 429, "retry_after_s": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let limited = harness.get(&tasks_path(), &[]).await;
    assert_error(&limited, 429, "Too Many Requests");
    assert_eq!(limited.headers["retry-after"], "3");

    let response = harness
        .client
        .delete(format!("{}/_sim/faults", harness.sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let cleared = harness.get(&tasks_path(), &[]).await;
    assert_eq!(cleared.status, StatusCode::OK);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn stats_count_route_templates() {
    let harness = Harness::start().await;
    let ids: Vec<String> = harness
        .people()
        .iter()
        .take(3)
        .map(|p| p.id.clone())
        .collect();
    for id in &ids {
        harness.get(&format!("{}/{id}", people_path()), &[]).await;
    }
    harness.get(&people_path(), &[]).await;
    harness.get(&people_path(), &[("sort", "nickname")]).await;
    harness.get(&format!("{}/missing", notes_path()), &[]).await;
    harness
        .client
        .get(format!("{}{}", harness.sim.base_url, tasks_path()))
        .send()
        .await
        .unwrap();

    let control = &harness.sim.control;
    assert_eq!(control.count("GET /people/people/{id}"), 3);
    assert_eq!(control.count("GET /people/people"), 2);
    assert_eq!(control.count("GET /attachments/notes/{id}"), 1);
    assert_eq!(control.count("GET /tasks/tasks"), 1);
    assert_eq!(control.total(), 7);

    let stats: Value = harness
        .client
        .get(format!("{}/_sim/stats", harness.sim.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let routes = &stats["routes"];
    assert_eq!(routes["GET /people/people"]["statuses"]["200"], 1);
    assert_eq!(routes["GET /people/people"]["statuses"]["400"], 1);
    assert_eq!(routes["GET /attachments/notes/{id}"]["statuses"]["404"], 1);
    assert_eq!(routes["GET /tasks/tasks"]["statuses"]["401"], 1);
    let versions = &stats["headers"]["accept-version"];
    assert_eq!(
        versions["GET /people/people/{id}"][names::ACCEPT_VERSION],
        3
    );
    assert_eq!(versions["GET /tasks/tasks"]["<missing>"], 1);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn head_request_has_no_body() {
    let harness = Harness::start().await;
    let response = harness
        .client
        .head(format!("{}{}", harness.sim.base_url, people_path()))
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn invalid_utf8_id_is_400() {
    let harness = Harness::start().await;
    let response = harness
        .client
        .get(format!("{}{}/%FF", harness.sim.base_url, people_path()))
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .await
        .unwrap();
    let reply = reply(response).await;
    assert_error(&reply, 400, "Bad Request");
    harness.sim.shutdown().await;
}

// ---- Writes ----

fn person_body(first_name: &str, last_name: &str, email: &str) -> Value {
    json!({"data": {
        "type": names::PEOPLE.type_name,
        "attributes": {
            (names::person::FIRST_NAME): first_name,
            (names::person::LAST_NAME): last_name,
            (names::person::EMAIL): email,
        }
    }})
}

fn task_body(title: &str, person_id: &str) -> Value {
    json!({"data": {
        "type": names::TASKS.type_name,
        "attributes": { (names::task::TITLE): title, (names::task::DUE_AT): "2026-03-04T10:00:00Z" },
        "relationships": {
            (names::task::PERSON): {"data": {"type": names::PEOPLE.type_name, "id": person_id}}
        }
    }})
}

fn note_body(subject: &str, people: &[&str]) -> Value {
    let linkage: Vec<Value> = people
        .iter()
        .map(|id| json!({"type": names::PEOPLE.type_name, "id": id}))
        .collect();
    json!({"data": {
        "type": names::NOTES.type_name,
        "attributes": {
            (names::note::SUBJECT): subject,
            (names::note::BODY): "Body text",
            (names::note::NOTE_TYPE): "Contact",
            (names::note::OCCURRED_AT): "2026-02-01T09:00:00Z",
        },
        "relationships": { (names::note::PEOPLE): {"data": linkage} }
    }})
}

/// Returns the `source.pointer` of every error object.
fn pointers(reply: &Reply) -> Vec<String> {
    reply.body["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|error| {
            error["source"]["pointer"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn item_path(base: &str, id: &Value) -> String {
    format!("{base}/{}", id.as_str().expect("string id"))
}

#[tokio::test]
async fn create_person_is_201_with_location() {
    let harness = Harness::start().await;
    let reply = harness
        .write(
            Method::POST,
            &people_path(),
            &person_body("Ada", "Writer", "ada.writer@example.org"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.content_type, names::MEDIA_TYPE);

    let data = &reply.body["data"];
    let id = data["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(data["type"], names::PEOPLE.type_name);
    assert_eq!(data["attributes"]["first_name"], "Ada");
    assert_eq!(data["attributes"]["phone"], Value::Null);
    assert!(data["attributes"]["created_at"].is_string());
    assert_eq!(
        data["attributes"]["created_at"],
        data["attributes"]["updated_at"]
    );
    let location = format!("{}{}/{id}", harness.sim.base_url, people_path());
    assert_eq!(reply.headers["location"], location.as_str());
    assert_eq!(data["links"]["self"], location);

    let fetched = harness.follow(&location).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body["data"], *data);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn created_records_show_in_lists() {
    let harness = Harness::start().await;
    let before = harness.get(&people_path(), &[]).await.body["meta"][names::META_TOTAL]
        .as_u64()
        .unwrap();
    let mut created = Vec::new();
    for first_name in ["Cy", "Ann", "Bo"] {
        let data = harness
            .create(
                &people_path(),
                &person_body(first_name, "Zzwrite", "shared@example.org"),
            )
            .await;
        created.push(data["id"].as_str().unwrap().to_string());
    }

    let all = harness.get(&people_path(), &[]).await;
    assert_eq!(all.body["meta"][names::META_TOTAL], before + 3);

    let page = harness
        .get(
            &people_path(),
            &[
                ("filter[last_name]", "Zzwrite"),
                ("sort", "first_name"),
                ("page[limit]", "2"),
            ],
        )
        .await;
    assert_eq!(page.body["meta"][names::META_TOTAL], 3);
    let names_on_page: Vec<&str> = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|resource| resource["attributes"]["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(names_on_page, ["Ann", "Bo"]);
    let next = page.body["links"]["next"].as_str().unwrap().to_string();
    let second = harness.follow(&next).await;
    assert_eq!(data_ids(&second.body).len(), 1);

    let by_email = harness
        .ids(&people_path(), &[("filter[email]", "shared@example.org")])
        .await;
    assert_eq!(sorted(by_email), sorted(created.clone()));

    let task = harness
        .create(&tasks_path(), &task_body("Call back", &created[0]))
        .await;
    let tasks = harness
        .ids(&tasks_path(), &[("filter[person.id]", created[0].as_str())])
        .await;
    assert_eq!(tasks, vec![task["id"].as_str().unwrap().to_string()]);
    let note = harness
        .create(&notes_path(), &note_body("Intake call", &[&created[1]]))
        .await;
    let notes = harness
        .ids(&notes_path(), &[("filter[people.id]", created[1].as_str())])
        .await;
    assert_eq!(notes, vec![note["id"].as_str().unwrap().to_string()]);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn create_links_tasks_and_notes() {
    let harness = Harness::start().await;
    let owners: Vec<String> = harness.people()[..2].iter().map(|p| p.id.clone()).collect();

    let task = harness
        .create(&tasks_path(), &task_body("Send forms", &owners[0]))
        .await;
    assert_eq!(task["attributes"]["status"], names::task::STATUS_OPEN);
    assert_eq!(task["attributes"]["completed_at"], Value::Null);
    assert_eq!(
        task["relationships"]["person"]["data"],
        json!({"type": "people", "id": owners[0]})
    );

    let note = harness
        .create(
            &notes_path(),
            &note_body("Both", &[&owners[0], &owners[1], &owners[0]]),
        )
        .await;
    assert_eq!(
        note["relationships"]["people"]["data"],
        json!([{"type": "people", "id": owners[0]}, {"type": "people", "id": owners[1]}])
    );

    let mut completed = task_body("Done already", &owners[1]);
    completed["data"]["attributes"]["status"] = json!(names::task::STATUS_COMPLETED);
    let task = harness.create(&tasks_path(), &completed).await;
    assert!(task["attributes"]["completed_at"].is_string(), "{task}");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn create_keeps_sent_time_precision() {
    let harness = Harness::start().await;
    let owner = harness.people()[0].id.clone();
    let mut body = task_body("Precise", &owner);
    body["data"]["attributes"]["due_at"] = json!("2026-03-04T12:00:00.250+02:00");
    let task = harness.create(&tasks_path(), &body).await;
    assert_eq!(task["attributes"]["due_at"], "2026-03-04T10:00:00.250Z");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn create_with_client_id_is_403() {
    let harness = Harness::start().await;
    let mut body = person_body("Ada", "Writer", "a@example.org");
    body["data"]["id"] = json!("00000000-0000-4000-8000-000000000001");
    let reply = harness.write(Method::POST, &people_path(), &body).await;
    assert_error(&reply, 403, "Forbidden");
    assert_eq!(pointers(&reply), ["/data/id"]);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn missing_required_is_422_per_attribute() {
    let harness = Harness::start().await;
    let reply = harness
        .write(
            Method::POST,
            &notes_path(),
            &json!({"data": {"type": "notes", "attributes": {}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        sorted(pointers(&reply)),
        [
            "/data/attributes/body",
            "/data/attributes/note_type",
            "/data/attributes/subject"
        ]
    );
    for error in reply.body["errors"].as_array().unwrap() {
        assert_eq!(error["status"], "422");
        assert_eq!(error["title"], "Invalid Attribute");
    }

    let reply = harness
        .write(
            Method::POST,
            &people_path(),
            &json!({"data": {"type": "people", "attributes": {"first_name": "  ", "email": "x@example.org"}}}),
        )
        .await;
    assert_eq!(
        reply.body,
        json!({"errors": [
            {
                "status": "422",
                "title": "Invalid Attribute",
                "detail": "Attribute 'first_name' is required for this tenant and cannot be null or blank.",
                "source": {"pointer": "/data/attributes/first_name"}
            },
            {
                "status": "422",
                "title": "Invalid Attribute",
                "detail": "Attribute 'last_name' is required for this tenant and is missing; send a non-blank value.",
                "source": {"pointer": "/data/attributes/last_name"}
            }
        ]})
    );

    let reply = harness
        .write(
            Method::POST,
            &tasks_path(),
            &json!({"data": {"type": "tasks"}}),
        )
        .await;
    assert_eq!(pointers(&reply), ["/data/attributes/title"]);
    let state = harness.state().await;
    let created_nothing = state["people"]
        .as_array()
        .unwrap()
        .iter()
        .all(|entry| entry["person"]["attributes"]["email"] != "x@example.org");
    assert!(created_nothing);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn required_attributes_are_configurable() {
    let options = CasebookSimOptions {
        required_attributes: RequiredAttributes {
            people: vec!["email".into(), "nickname".into()],
            ..RequiredAttributes::default()
        },
        ..CasebookSimOptions::default()
    };
    let harness = Harness::start_with(options).await;
    let reply = harness
        .write(
            Method::POST,
            &people_path(),
            &json!({"data": {"type": "people", "attributes": {"last_name": "Only"}}}),
        )
        .await;
    assert_eq!(pointers(&reply), ["/data/attributes/email"]);

    let reply = harness
        .write(
            Method::POST,
            &people_path(),
            &json!({"data": {"type": "people", "attributes": {"email": "only@example.org"}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["data"]["attributes"]["first_name"], Value::Null);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn invalid_attributes_are_422_with_pointer() {
    let harness = Harness::start().await;
    let owner = harness.people()[0].id.clone();
    let cases: Vec<(String, Value, &str, &str)> = vec![
        (
            notes_path(),
            json!({"note_type": "Call"}),
            "note_type",
            "General",
        ),
        (
            tasks_path(),
            json!({"status": "done"}),
            "status",
            "open, completed",
        ),
        (
            tasks_path(),
            json!({"status": null}),
            "status",
            "cannot be null",
        ),
        (
            tasks_path(),
            json!({"due_at": "tomorrow"}),
            "due_at",
            "RFC 3339",
        ),
        (
            people_path(),
            json!({"date_of_birth": "1990-13-01"}),
            "date_of_birth",
            "YYYY-MM-DD",
        ),
        (
            people_path(),
            json!({"hispanic_or_latino": "Yes"}),
            "hispanic_or_latino",
            "unable to determine",
        ),
        (
            people_path(),
            json!({"phone": 5550102}),
            "phone",
            "a number",
        ),
        (
            people_path(),
            json!({"nickname": "Al"}),
            "nickname",
            "Writable attributes",
        ),
        (
            people_path(),
            json!({"created_at": "2024-01-01T00:00:00Z"}),
            "created_at",
            "set by the server",
        ),
        (
            tasks_path(),
            json!({"completed_at": null}),
            "completed_at",
            "set by the server",
        ),
    ];
    for (path, extra, attribute, hint) in cases {
        let mut body = match path.as_str() {
            p if p == people_path() => person_body("Ada", "Writer", "v@example.org"),
            p if p == tasks_path() => task_body("Valid title", &owner),
            _ => note_body("Valid subject", &[&owner]),
        };
        for (name, value) in extra.as_object().unwrap() {
            body["data"]["attributes"][name] = value.clone();
        }
        let reply = harness.write(Method::POST, &path, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{attribute}: {}",
            reply.body
        );
        assert_eq!(
            pointers(&reply),
            [format!("/data/attributes/{attribute}")],
            "{attribute}"
        );
        let detail = reply.body["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains(hint), "{attribute}: {detail}");
        assert_eq!(reply.body["errors"][0]["title"], "Invalid Attribute");
    }

    let mut valid = person_body("Ada", "Writer", "v@example.org");
    valid["data"]["attributes"]["hispanic_or_latino"] = json!("unable to determine");
    let person = harness.create(&people_path(), &valid).await;
    assert_eq!(
        person["attributes"]["hispanic_or_latino"],
        "unable to determine"
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn invalid_relationships_are_422_with_pointer() {
    let harness = Harness::start().await;
    let owner = harness.people()[0].id.clone();
    let missing = "00000000-0000-4000-8000-00000000dead";

    let reply = harness
        .write(Method::POST, &tasks_path(), &task_body("Orphan", missing))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(&reply), ["/data/relationships/person"]);
    assert_eq!(reply.body["errors"][0]["title"], "Invalid Relationship");
    let detail = reply.body["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains(missing), "{detail}");

    let reply = harness
        .write(
            Method::POST,
            &notes_path(),
            &note_body("Half", &[&owner, missing]),
        )
        .await;
    assert_eq!(pointers(&reply), ["/data/relationships/people"]);

    let relationship_cases = [
        json!({"person": {"data": {"type": "notes", "id": owner}}}),
        json!({"person": {"data": [{"type": "people", "id": owner}]}}),
        json!({"person": {"type": "people", "id": owner}}),
        json!({"person": {"data": {"type": "people"}}}),
        json!({"owner": {"data": {"type": "people", "id": owner}}}),
    ];
    for relationships in relationship_cases {
        let mut body = task_body("Linked", &owner);
        body["data"]["relationships"] = relationships.clone();
        let reply = harness.write(Method::POST, &tasks_path(), &body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{relationships}"
        );
        let name = relationships.as_object().unwrap().keys().next().unwrap();
        assert_eq!(pointers(&reply), [format!("/data/relationships/{name}")]);
    }

    let mut unlinked = task_body("No one", &owner);
    unlinked["data"]["relationships"]["person"]["data"] = Value::Null;
    let task = harness.create(&tasks_path(), &unlinked).await;
    assert_eq!(task["relationships"]["person"]["data"], Value::Null);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn all_problems_are_reported_together() {
    let harness = Harness::start().await;
    let body = json!({"data": {
        "type": "tasks",
        "attributes": {"status": "later", "nickname": "x"},
        "relationships": {"person": {"data": {"type": "people", "id": "missing"}}}
    }});
    let reply = harness.write(Method::POST, &tasks_path(), &body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        sorted(pointers(&reply)),
        [
            "/data/attributes/nickname",
            "/data/attributes/status",
            "/data/attributes/title",
            "/data/relationships/person"
        ]
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn write_body_checks_come_first() {
    let harness = Harness::start().await;
    let valid = person_body("Ada", "Writer", "a@example.org").to_string();
    let path = people_path();

    for content_type in [
        None,
        Some("application/json"),
        Some("application/vnd.api+json; charset=utf-8"),
    ] {
        let reply = harness
            .write_raw(Method::POST, &path, content_type, &valid)
            .await;
        assert_error(&reply, 415, "Unsupported Media Type");
        let detail = reply.body["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains(names::MEDIA_TYPE), "{detail}");
    }
    let upper = harness
        .write_raw(
            Method::POST,
            &path,
            Some("Application/VND.API+JSON"),
            &valid,
        )
        .await;
    assert_eq!(upper.status, StatusCode::CREATED);

    let media = Some(names::MEDIA_TYPE);
    let malformed = harness
        .write_raw(Method::POST, &path, media, "{\"data\": ")
        .await;
    assert_error(&malformed, 400, "Bad Request");
    let empty = harness.write_raw(Method::POST, &path, media, "").await;
    assert_error(&empty, 400, "Bad Request");
    let no_data = harness
        .write(Method::POST, &path, &json!({"meta": {}}))
        .await;
    assert_error(&no_data, 400, "Bad Request");
    assert_eq!(pointers(&no_data), ["/data"]);
    let no_type = harness
        .write(Method::POST, &path, &json!({"data": {"attributes": {}}}))
        .await;
    assert_eq!(pointers(&no_type), ["/data/type"]);
    let attributes_array = harness
        .write(
            Method::POST,
            &path,
            &json!({"data": {"type": "people", "attributes": []}}),
        )
        .await;
    assert_error(&attributes_array, 400, "Bad Request");

    let wrong_type = harness
        .write(Method::POST, &path, &note_body("Wrong place", &[]))
        .await;
    assert_error(&wrong_type, 409, "Conflict");
    assert_eq!(pointers(&wrong_type), ["/data/type"]);

    let id = harness.people()[0].id.clone();
    let item = format!("{path}/{id}");
    let other_id = harness
        .write(
            Method::PATCH,
            &item,
            &json!({"data": {"type": "people", "id": "someone-else", "attributes": {}}}),
        )
        .await;
    assert_error(&other_id, 409, "Conflict");
    assert_eq!(pointers(&other_id), ["/data/id"]);
    let no_id = harness
        .write(
            Method::PATCH,
            &item,
            &json!({"data": {"type": "people", "attributes": {}}}),
        )
        .await;
    assert_error(&no_id, 400, "Bad Request");
    let patch_json = harness
        .write_raw(Method::PATCH, &item, Some("application/json"), "{}")
        .await;
    assert_error(&patch_json, 415, "Unsupported Media Type");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn writes_need_a_token() {
    let harness = Harness::start().await;
    let response = harness
        .client
        .post(format!("{}{}", harness.sim.base_url, people_path()))
        .header("Content-Type", names::MEDIA_TYPE)
        .body(person_body("No", "Token", "none@example.org").to_string())
        .send()
        .await
        .unwrap();
    let reply = reply(response).await;
    assert_error(&reply, 401, "Unauthorized");
    let ids = harness
        .ids(&people_path(), &[("filter[email]", "none@example.org")])
        .await;
    assert!(ids.is_empty());
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn patch_writes_only_sent_attributes() {
    let harness = Harness::start().await;
    let person = harness.people()[0].clone();
    let path = format!("{}/{}", people_path(), person.id);
    let before = harness.get(&path, &[]).await.body["data"].clone();

    let reply = harness
        .write(
            Method::PATCH,
            &path,
            &json!({"data": {"type": "people", "id": person.id, "attributes": {"email": "new@example.org", "phone": null}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.content_type, names::MEDIA_TYPE);
    let after = &reply.body["data"]["attributes"];
    assert_eq!(after["email"], "new@example.org");
    assert_eq!(after["phone"], Value::Null);
    for unchanged in ["first_name", "last_name", "date_of_birth", "created_at"] {
        assert_eq!(
            after[unchanged], before["attributes"][unchanged],
            "{unchanged}"
        );
    }
    assert_ne!(after["updated_at"], before["attributes"]["updated_at"]);

    let fetched = harness.get(&path, &[]).await;
    assert_eq!(fetched.body["data"], reply.body["data"]);
    let found = harness
        .ids(&people_path(), &[("filter[email]", "new@example.org")])
        .await;
    assert_eq!(found, vec![person.id.clone()]);

    let blank = harness
        .write(
            Method::PATCH,
            &path,
            &json!({"data": {"type": "people", "id": person.id, "attributes": {"last_name": ""}}}),
        )
        .await;
    assert_eq!(pointers(&blank), ["/data/attributes/last_name"]);
    let unchanged = harness.get(&path, &[]).await;
    assert_eq!(unchanged.body["data"], reply.body["data"]);

    let missing = harness
        .write(
            Method::PATCH,
            &format!("{}/no-such-id", people_path()),
            &json!({"data": {"type": "people", "id": "no-such-id", "attributes": {}}}),
        )
        .await;
    assert_error(&missing, 404, "Not Found");
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn patch_status_sets_completed_at() {
    let harness = Harness::start().await;
    let owner = harness.people()[0].id.clone();
    let task = harness
        .create(&tasks_path(), &task_body("Toggle", &owner))
        .await;
    let path = item_path(&tasks_path(), &task["id"]);
    let status = |value: &str| json!({"data": {"type": "tasks", "id": task["id"], "attributes": {"status": value}}});

    let done = harness
        .write(Method::PATCH, &path, &status("completed"))
        .await;
    let attributes = &done.body["data"]["attributes"];
    assert_eq!(attributes["status"], "completed");
    assert!(attributes["completed_at"].is_string(), "{attributes}");
    assert_eq!(attributes["title"], "Toggle");

    let reopened = harness.write(Method::PATCH, &path, &status("open")).await;
    assert_eq!(
        reopened.body["data"]["attributes"]["completed_at"],
        Value::Null
    );
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn patch_replaces_note_people() {
    let harness = Harness::start().await;
    let owners: Vec<String> = harness.people()[..3].iter().map(|p| p.id.clone()).collect();
    let note = harness
        .create(
            &notes_path(),
            &note_body("Shared", &[&owners[0], &owners[1]]),
        )
        .await;
    let path = item_path(&notes_path(), &note["id"]);
    let reply = harness
        .write(
            Method::PATCH,
            &path,
            &json!({"data": {"type": "notes", "id": note["id"], "relationships": {
                "people": {"data": [{"type": "people", "id": owners[2]}]}
            }}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["data"]["relationships"]["people"]["data"],
        json!([{"type": "people", "id": owners[2]}])
    );
    assert_eq!(reply.body["data"]["attributes"]["subject"], "Shared");
    let still_linked = harness
        .ids(&notes_path(), &[("filter[people.id]", owners[0].as_str())])
        .await;
    assert!(!still_linked.contains(&note["id"].as_str().unwrap().to_string()));
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn note_ending_before_start_is_422() {
    let harness = Harness::start().await;
    let owner = harness.people()[0].id.clone();
    let mut body = note_body("Meeting", &[&owner]);
    body["data"]["attributes"]["note_type"] = json!(names::APPOINTMENT_NOTE_TYPE);
    body["data"]["attributes"]["ends_at"] = json!("2026-02-01T08:00:00Z");
    let reply = harness.write(Method::POST, &notes_path(), &body).await;
    assert_eq!(pointers(&reply), ["/data/attributes/ends_at"]);

    body["data"]["attributes"]["ends_at"] = json!("2026-02-01T10:00:00Z");
    let note = harness.create(&notes_path(), &body).await;
    let path = item_path(&notes_path(), &note["id"]);
    let later_start = json!({"data": {"type": "notes", "id": note["id"], "attributes": {"occurred_at": "2026-02-01T11:00:00Z"}}});
    let reply = harness.write(Method::PATCH, &path, &later_start).await;
    assert_eq!(pointers(&reply), ["/data/attributes/occurred_at"]);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let harness = Harness::start().await;
    let person = harness.people()[0].clone();
    let targets = [
        format!("{}/{}", tasks_path(), person.tasks[0].id),
        format!("{}/{}", notes_path(), person.notes[0].id),
        format!("{}/{}", people_path(), person.id),
    ];
    for path in targets {
        let (status, body) = harness.delete(&path).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{path}: {body}");
        assert_eq!(body, "");
        let gone = harness.get(&path, &[]).await;
        assert_error(&gone, 404, "Not Found");
        let (again, body) = harness.delete(&path).await;
        assert_eq!(again, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("\"errors\""), "{body}");
    }
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn delete_person_keeps_shared_notes() {
    let harness = Harness::start().await;
    let first = harness
        .create(
            &people_path(),
            &person_body("First", "Gone", "first@example.org"),
        )
        .await;
    let second = harness
        .create(
            &people_path(),
            &person_body("Second", "Stays", "second@example.org"),
        )
        .await;
    let (first_id, second_id) = (
        first["id"].as_str().unwrap().to_string(),
        second["id"].as_str().unwrap().to_string(),
    );
    let shared = harness
        .create(
            &notes_path(),
            &note_body("Shared", &[&first_id, &second_id]),
        )
        .await;
    let own = harness
        .create(&notes_path(), &note_body("Own", &[&first_id]))
        .await;
    let task = harness
        .create(&tasks_path(), &task_body("Own task", &first_id))
        .await;

    let (status, _) = harness
        .delete(&format!("{}/{first_id}", people_path()))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let shared_now = harness
        .get(&item_path(&notes_path(), &shared["id"]), &[])
        .await;
    assert_eq!(shared_now.status, StatusCode::OK);
    assert_eq!(
        shared_now.body["data"]["relationships"]["people"]["data"],
        json!([{"type": "people", "id": second_id}])
    );
    let own_now = harness
        .get(&item_path(&notes_path(), &own["id"]), &[])
        .await;
    assert_eq!(own_now.status, StatusCode::NOT_FOUND);
    let task_now = harness
        .get(&item_path(&tasks_path(), &task["id"]), &[])
        .await;
    assert_eq!(task_now.status, StatusCode::NOT_FOUND);

    let state = harness.state().await;
    let entries = state["people"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|entry| entry["person"]["id"] != first_id.as_str())
    );
    let second_entry = entries
        .iter()
        .find(|entry| entry["person"]["id"] == second_id.as_str())
        .unwrap();
    assert_eq!(second_entry["notes"].as_array().unwrap().len(), 1);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn writes_count_in_stats() {
    let harness = Harness::start().await;
    let data = harness
        .create(
            &people_path(),
            &person_body("Stat", "Counted", "s@example.org"),
        )
        .await;
    let path = item_path(&people_path(), &data["id"]);
    harness
        .write(
            Method::PATCH,
            &path,
            &json!({"data": {"type": "people", "id": data["id"], "attributes": {"phone": "555"}}}),
        )
        .await;
    harness
        .write(
            Method::POST,
            &people_path(),
            &json!({"data": {"type": "people"}}),
        )
        .await;
    harness.delete(&path).await;

    let control = &harness.sim.control;
    assert_eq!(control.count("POST /people/people"), 2);
    assert_eq!(control.count("PATCH /people/people/{id}"), 1);
    assert_eq!(control.count("DELETE /people/people/{id}"), 1);
    let stats = control.stats();
    let routes = &stats["routes"];
    assert_eq!(routes["POST /people/people"]["statuses"]["201"], 1);
    assert_eq!(routes["POST /people/people"]["statuses"]["422"], 1);
    assert_eq!(routes["PATCH /people/people/{id}"]["statuses"]["200"], 1);
    assert_eq!(routes["DELETE /people/people/{id}"]["statuses"]["204"], 1);
    harness.sim.shutdown().await;
}

#[tokio::test]
async fn state_listing_matches_seed() {
    let harness = Harness::start().await;
    let state = harness.state().await;
    assert_eq!(
        harness.sim.control.total(),
        0,
        "the listing must not be counted"
    );

    let entries = state["people"].as_array().unwrap();
    assert_eq!(entries.len(), harness.people().len());
    for person in harness.people() {
        let entry = entries
            .iter()
            .find(|entry| entry["person"]["id"] == person.id.as_str())
            .unwrap_or_else(|| panic!("{} missing from the state", person.id));
        assert_eq!(
            entry["person"]["attributes"]["first_name"],
            person.first_name
        );
        assert_eq!(entry["tasks"].as_array().unwrap().len(), person.tasks.len());
        assert_eq!(entry["notes"].as_array().unwrap().len(), person.notes.len());
    }
    assert_eq!(state["unlinked_tasks"], json!([]));
    assert_eq!(state["unlinked_notes"], json!([]));

    let owner = harness.people()[0].id.clone();
    let mut orphan = task_body("Unlinked", &owner);
    orphan["data"]["relationships"] = json!({});
    let task = harness.create(&tasks_path(), &orphan).await;
    let state = harness.state().await;
    assert_eq!(state["unlinked_tasks"][0]["id"], task["id"]);
    harness.sim.shutdown().await;
}
