//! Request bodies of the GHL write routes.
//!
//! Every field is optional, and a `None` field is left out of the JSON body, so that an
//! update changes only the fields that are set. A field cannot be cleared through these
//! types, because null is never sent. The client adds `locationId` where a route needs it.

use serde::Serialize;
use serde_json::Value;

/// Fields of a contact to write; `None` fields are left out of the body.
///
/// `tags` replaces the contact's whole tag set; use [`super::GhlClient::add_tags`] and
/// [`super::GhlClient::remove_tags`] to change single tags.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlContactInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Full name; GHL fills the first and last names from it when those are not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number, best in E.164 (`+14231645160`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    // NOTE: GHL's published update DTO has no companyName. The simulator accepts it on
    // update, but live GHL may reject an update that sets it with a 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Birth date as `YYYY-MM-DD`; GHL also accepts `MM/DD/YYYY` and a few other layouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// Custom field values to set; fields not listed keep their values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<GhlCustomFieldInput>>,
}

/// One custom field value to write.
///
/// GHL writes take `{id or key, field_value}` while reads return `{id, value}`
/// ([`super::GhlCustomFieldValue`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GhlCustomFieldInput {
    /// Id of the custom field definition; set this or `key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Key of the custom field definition, such as `contact.preferred_language`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// String, number, list or object, depending on the field type.
    pub field_value: Value,
}

impl GhlCustomFieldInput {
    /// Builds a value for the field with this id.
    pub fn by_id(id: impl Into<String>, value: impl Into<Value>) -> GhlCustomFieldInput {
        GhlCustomFieldInput {
            id: Some(id.into()),
            key: None,
            field_value: value.into(),
        }
    }

    /// Builds a value for the field with this key.
    pub fn by_key(key: impl Into<String>, value: impl Into<Value>) -> GhlCustomFieldInput {
        GhlCustomFieldInput {
            id: None,
            key: Some(key.into()),
            field_value: value.into(),
        }
    }
}

/// Fields of a task to write. GHL requires `title`, `due_date` and `completed` on create.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlTaskInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Due time, ISO-8601 with `Z` or an offset (`2020-10-25T11:00:00Z`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    /// User id of the assignee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

/// Fields of a note to write. GHL requires `body` on create.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlNoteInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// User id of the author.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// Fields of a calendar appointment to write.
///
/// GHL requires `calendar_id`, `contact_id` and `start_time` on create. The edit route
/// has no `contactId`, so GHL rejects an update that sets `contact_id` with a 422.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlAppointmentInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// ISO-8601 with an offset (`2021-06-23T03:30:00+05:30`); a time without one is a 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// ISO-8601 with an offset; GHL derives it from the calendar when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `new`, `confirmed`, `cancelled`, `showed`, `noshow` or `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Books the time even when the calendar has no free slot there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_free_slot_validation: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn none_fields_left_out() {
        let input = GhlContactInput {
            first_name: Some("Ada".into()),
            custom_fields: Some(vec![
                GhlCustomFieldInput::by_id("cf1", "x"),
                GhlCustomFieldInput::by_key("contact.size", 3),
            ]),
            ..GhlContactInput::default()
        };
        assert_eq!(
            serde_json::to_value(&input).unwrap(),
            json!({
                "firstName": "Ada",
                "customFields": [
                    { "id": "cf1", "field_value": "x" },
                    { "key": "contact.size", "field_value": 3 },
                ],
            })
        );
        assert_eq!(
            serde_json::to_value(GhlTaskInput::default()).unwrap(),
            json!({})
        );
    }

    #[test]
    fn inputs_use_camel_case() {
        let task = GhlTaskInput {
            due_date: Some("2020-10-25T11:00:00Z".into()),
            assigned_to: Some("u1".into()),
            ..GhlTaskInput::default()
        };
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            json!({ "dueDate": "2020-10-25T11:00:00Z", "assignedTo": "u1" })
        );
        let note = GhlNoteInput {
            user_id: Some("u1".into()),
            ..GhlNoteInput::default()
        };
        assert_eq!(
            serde_json::to_value(&note).unwrap(),
            json!({ "userId": "u1" })
        );
        let appointment = GhlAppointmentInput {
            calendar_id: Some("cal".into()),
            ignore_free_slot_validation: Some(true),
            ..GhlAppointmentInput::default()
        };
        assert_eq!(
            serde_json::to_value(&appointment).unwrap(),
            json!({ "calendarId": "cal", "ignoreFreeSlotValidation": true })
        );
    }
}
