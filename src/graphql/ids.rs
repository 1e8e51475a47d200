//! Opaque Relay global ids and list cursors.
//!
//! A global id is the URL-safe base64 of `<Type>:<parts>`: `Contact:<uuid>`,
//! `Task:CASEBOOK:<id>`, `Task:GHL:<contactId>:<taskId>`, `Note:...` in the same way, and
//! `Appointment:CASEBOOK:<id>` or `Appointment:GHL:<eventId>`. GHL tasks and notes carry
//! their contact id because GHL reads them under the contact.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::upstream::System;

/// A decoded global id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalId {
    Contact(String),
    Task(ItemRef),
    Note(ItemRef),
    Appointment(ItemRef),
}

/// A task, note or appointment on one system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemRef {
    Casebook {
        id: String,
    },
    /// GHL tasks and notes are read under their contact; appointments are not.
    Ghl {
        contact_id: Option<String>,
        id: String,
    },
}

impl ItemRef {
    pub fn system(&self) -> System {
        match self {
            ItemRef::Casebook { .. } => System::Casebook,
            ItemRef::Ghl { .. } => System::Ghl,
        }
    }

    pub fn native_id(&self) -> &str {
        match self {
            ItemRef::Casebook { id } | ItemRef::Ghl { id, .. } => id,
        }
    }

    fn encode(&self, kind: &str) -> String {
        match self {
            ItemRef::Casebook { id } => format!("{kind}:CASEBOOK:{id}"),
            ItemRef::Ghl {
                contact_id: Some(contact),
                id,
            } => format!("{kind}:GHL:{contact}:{id}"),
            ItemRef::Ghl {
                contact_id: None,
                id,
            } => format!("{kind}:GHL:{id}"),
        }
    }
}

impl GlobalId {
    /// Encodes the id for clients.
    pub fn encode(&self) -> ID {
        let raw = match self {
            GlobalId::Contact(id) => format!("Contact:{id}"),
            GlobalId::Task(item) => item.encode("Task"),
            GlobalId::Note(item) => item.encode("Note"),
            GlobalId::Appointment(item) => item.encode("Appointment"),
        };
        ID(URL_SAFE_NO_PAD.encode(raw))
    }

    /// Decodes a client's id. Returns `None` for anything the gateway did not issue.
    pub fn decode(id: &str) -> Option<GlobalId> {
        let bytes = URL_SAFE_NO_PAD
            .decode(id.trim().trim_end_matches('='))
            .ok()?;
        let raw = String::from_utf8(bytes).ok()?;
        let mut parts = raw.split(':');
        let kind = parts.next()?;
        let rest: Vec<&str> = parts.collect();
        if rest.iter().any(|part| part.is_empty()) {
            return None;
        }
        if kind == "Contact" {
            return match rest.as_slice() {
                [id] => Some(GlobalId::Contact(id.to_string())),
                _ => None,
            };
        }
        let item = match rest.as_slice() {
            ["CASEBOOK", id] => ItemRef::Casebook { id: id.to_string() },
            ["GHL", id] => ItemRef::Ghl {
                contact_id: None,
                id: id.to_string(),
            },
            ["GHL", contact, id] => ItemRef::Ghl {
                contact_id: Some(contact.to_string()),
                id: id.to_string(),
            },
            _ => return None,
        };
        match (kind, &item) {
            (
                "Task",
                ItemRef::Ghl {
                    contact_id: None, ..
                },
            ) => None,
            (
                "Note",
                ItemRef::Ghl {
                    contact_id: None, ..
                },
            ) => None,
            ("Task", _) => Some(GlobalId::Task(item)),
            ("Note", _) => Some(GlobalId::Note(item)),
            ("Appointment", _) => Some(GlobalId::Appointment(item)),
            _ => None,
        }
    }
}

/// Encodes an opaque cursor from any serialisable position.
pub fn encode_cursor<T: serde::Serialize>(position: &T) -> String {
    let json = serde_json::to_vec(position).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor made by `encode_cursor`.
pub fn decode_cursor<T: serde::de::DeserializeOwned>(cursor: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let ids = [
            GlobalId::Contact("9b2f".to_string()),
            GlobalId::Task(ItemRef::Casebook {
                id: "t1".to_string(),
            }),
            GlobalId::Task(ItemRef::Ghl {
                contact_id: Some("c1".to_string()),
                id: "t1".to_string(),
            }),
            GlobalId::Note(ItemRef::Ghl {
                contact_id: Some("c1".to_string()),
                id: "n1".to_string(),
            }),
            GlobalId::Appointment(ItemRef::Ghl {
                contact_id: None,
                id: "e1".to_string(),
            }),
        ];
        for id in ids {
            assert_eq!(GlobalId::decode(&id.encode()), Some(id.clone()), "{id:?}");
        }
    }

    #[test]
    fn foreign_ids_are_rejected() {
        for raw in [
            "",
            "not base64!",
            "Q29udGFjdA",
            "VGFzazpHSEw6dDE",
            "Rm9vOmJhcg",
        ] {
            assert_eq!(GlobalId::decode(raw), None, "{raw:?}");
        }
    }
}
