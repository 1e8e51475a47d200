//! Normalisation of the keys that link a Casebook person to a GHL contact.
//!
//! Two records match when their normalised e-mail addresses or E.164 phone numbers are
//! equal. Both systems store these values as people typed them (Casebook does not
//! normalise; GHL stores E.164 phones but keeps e-mail case), so matching always compares
//! normalised forms.

use std::str::FromStr;

use phonenumber::{Mode, country};

/// The kind of a matching key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    Email,
    Phone,
}

impl KeyKind {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Email => "email",
            KeyKind::Phone => "phone",
        }
    }

    /// Parses the stored value.
    pub fn from_db(value: &str) -> Option<KeyKind> {
        match value {
            "email" => Some(KeyKind::Email),
            "phone" => Some(KeyKind::Phone),
            _ => None,
        }
    }
}

/// A normalised matching key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MatchKey {
    pub kind: KeyKind,
    pub value: String,
}

/// The region used to read phone numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(country::Id);

impl PhoneRegion {
    /// Parses an ISO 3166-1 alpha-2 code such as `US` or `CA`.
    pub fn parse(code: &str) -> Result<PhoneRegion, String> {
        country::Id::from_str(&code.trim().to_ascii_uppercase())
            .map(PhoneRegion)
            .map_err(|_| {
                format!(
                    "invalid phone region {code:?}: use an ISO 3166-1 alpha-2 country code such as \"US\""
                )
            })
    }
}

impl Default for PhoneRegion {
    fn default() -> Self {
        PhoneRegion(country::Id::US)
    }
}

/// Trims and lower-cases an e-mail address. Returns `None` for a value that is not an
/// address (no `@`, an empty side, or spaces inside).
pub fn normalize_email(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let (local, domain) = trimmed.split_once('@')?;
    let well_formed = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !trimmed.contains(char::is_whitespace);
    well_formed.then(|| trimmed.to_lowercase())
}

/// Parses a phone number in any common notation and formats it as E.164.
///
/// A number without a country code is read in `region`. Returns `None` when the text is
/// not a phone number. Numbers are not checked against the numbering plan, because the
/// fictional 555 numbers that test data uses must still match each other.
pub fn normalize_phone(raw: &str, region: PhoneRegion) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    let number = phonenumber::parse(Some(region.0), trimmed).ok()?;
    Some(number.format().mode(Mode::E164).to_string())
}

/// Collects the matching keys of one record.
pub fn match_keys(email: Option<&str>, phone: Option<&str>, region: PhoneRegion) -> Vec<MatchKey> {
    let mut keys = Vec::with_capacity(2);
    if let Some(value) = email.and_then(normalize_email) {
        keys.push(MatchKey {
            kind: KeyKind::Email,
            value,
        });
    }
    if let Some(value) = phone.and_then(|p| normalize_phone(p, region)) {
        keys.push(MatchKey {
            kind: KeyKind::Phone,
            value,
        });
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_normalisation() {
        let cases = [
            (" Jane.Doe@Example.ORG ", Some("jane.doe@example.org")),
            ("jane@example.org", Some("jane@example.org")),
            ("", None),
            ("no-at-sign", None),
            ("@example.org", None),
            ("jane@", None),
            ("ja ne@example.org", None),
            ("a@b@c", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_email(raw).as_deref(), expected, "input {raw:?}");
        }
    }

    #[test]
    fn phone_notations_share_one_e164_form() {
        let region = PhoneRegion::default();
        for raw in [
            "(555) 010-2345",
            "555-010-2345",
            "555.010.2345",
            "+15550102345",
            "+1 555 010 2345",
            " 5550102345 ",
        ] {
            assert_eq!(
                normalize_phone(raw, region).as_deref(),
                Some("+15550102345"),
                "input {raw:?}"
            );
        }
    }

    #[test]
    fn phone_region_applies_to_national_numbers() {
        let uk = PhoneRegion::parse("gb").unwrap();
        assert_eq!(
            normalize_phone("020 7946 0958", uk).as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn text_that_is_not_a_phone_is_rejected() {
        let region = PhoneRegion::default();
        assert_eq!(normalize_phone("", region), None);
        assert_eq!(normalize_phone("call me", region), None);
    }

    #[test]
    fn unknown_region_names_the_value() {
        let message = PhoneRegion::parse("Narnia").unwrap_err();
        assert!(message.contains("Narnia"), "{message}");
    }
}
