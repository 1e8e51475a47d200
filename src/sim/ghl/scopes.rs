//! OAuth scopes of GHL access tokens and the scope each simulated route requires.

use axum::http::Method;

/// Scope of contact reads.
pub const CONTACTS_READONLY: &str = "contacts.readonly";
/// Scope of contact writes.
pub const CONTACTS_WRITE: &str = "contacts.write";
/// Scope of calendar event reads.
pub const CALENDAR_EVENTS_READONLY: &str = "calendars/events.readonly";
/// Scope of calendar event writes.
pub const CALENDAR_EVENTS_WRITE: &str = "calendars/events.write";

/// Every scope that some simulated route requires, in the order a token response lists
/// them for a token that has all scopes.
pub const ENFORCED_SCOPES: [&str; 4] = [
    CONTACTS_READONLY,
    CONTACTS_WRITE,
    CALENDAR_EVENTS_READONLY,
    CALENDAR_EVENTS_WRITE,
];

/// The scopes a token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scopes {
    /// Every scope: private integration tokens and OAuth tokens requested with an empty
    /// scope.
    All,
    /// The scopes requested at the location chooser, in request order without repeats.
    Listed(Vec<String>),
}

impl Scopes {
    /// Parses a space-separated scope list. An empty or blank list means every scope.
    pub fn parse(text: &str) -> Scopes {
        let mut listed: Vec<String> = Vec::new();
        for scope in text.split_whitespace() {
            if !listed.iter().any(|known| known == scope) {
                listed.push(scope.to_string());
            }
        }
        if listed.is_empty() {
            Scopes::All
        } else {
            Scopes::Listed(listed)
        }
    }

    /// Reports whether the token may call a route that requires `scope`.
    pub fn allows(&self, scope: &str) -> bool {
        match self {
            Scopes::All => true,
            Scopes::Listed(listed) => listed.iter().any(|granted| granted == scope),
        }
    }

    /// Formats the scopes as the space-separated `scope` field of a token response.
    /// [`Scopes::All`] lists [`ENFORCED_SCOPES`].
    pub fn to_scope_string(&self) -> String {
        match self {
            Scopes::All => ENFORCED_SCOPES.join(" "),
            Scopes::Listed(listed) => listed.join(" "),
        }
    }
}

/// Returns the scope that a request with this method and path needs, or `None` for
/// paths outside `/contacts` and `/calendars`.
///
/// Reads (GET and HEAD) need the `.readonly` scope and other methods the `.write` scope.
/// `POST /contacts/search` is a read, and GHL's OpenAPI file declares
/// `contacts.readonly` for it.
pub fn required_scope(method: &Method, path: &str) -> Option<&'static str> {
    let is_read = method == Method::GET || method == Method::HEAD;
    let is_search = method == Method::POST && path.trim_end_matches('/') == "/contacts/search";
    if path == "/contacts" || path.starts_with("/contacts/") {
        Some(if is_read || is_search {
            CONTACTS_READONLY
        } else {
            CONTACTS_WRITE
        })
    } else if path == "/calendars" || path.starts_with("/calendars/") {
        Some(if is_read {
            CALENDAR_EVENTS_READONLY
        } else {
            CALENDAR_EVENTS_WRITE
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_empty_scope_means_all() {
        assert_eq!(Scopes::parse(""), Scopes::All);
        assert_eq!(Scopes::parse("  "), Scopes::All);
        assert!(Scopes::All.allows(CONTACTS_WRITE));
        assert_eq!(
            Scopes::All.to_scope_string(),
            "contacts.readonly contacts.write calendars/events.readonly calendars/events.write"
        );
    }

    #[test]
    fn parse_listed_scopes_drops_repeats() {
        let scopes = Scopes::parse("contacts.readonly  locations.readonly contacts.readonly");
        assert_eq!(
            scopes.to_scope_string(),
            "contacts.readonly locations.readonly"
        );
        assert!(scopes.allows(CONTACTS_READONLY));
        assert!(!scopes.allows(CONTACTS_WRITE));
    }

    #[test]
    fn required_scope_by_method_and_path() {
        let cases = [
            (Method::GET, "/contacts/", Some(CONTACTS_READONLY)),
            (Method::GET, "/contacts/abc/notes", Some(CONTACTS_READONLY)),
            (Method::HEAD, "/contacts/abc", Some(CONTACTS_READONLY)),
            (Method::POST, "/contacts/search", Some(CONTACTS_READONLY)),
            (Method::POST, "/contacts/", Some(CONTACTS_WRITE)),
            (Method::POST, "/contacts/upsert", Some(CONTACTS_WRITE)),
            (Method::PUT, "/contacts/abc", Some(CONTACTS_WRITE)),
            (Method::DELETE, "/contacts/abc/tags", Some(CONTACTS_WRITE)),
            (
                Method::GET,
                "/calendars/events/appointments/e1",
                Some(CALENDAR_EVENTS_READONLY),
            ),
            (
                Method::POST,
                "/calendars/events/appointments",
                Some(CALENDAR_EVENTS_WRITE),
            ),
            (
                Method::DELETE,
                "/calendars/events/e1",
                Some(CALENDAR_EVENTS_WRITE),
            ),
            (Method::GET, "/contactsfoo", None),
            (Method::POST, "/oauth/token", None),
        ];
        for (method, path, expected) in cases {
            assert_eq!(required_scope(&method, path), expected, "{method} {path}");
        }
    }
}
